//! The stream worker: one capture+encode pipeline, records on stdout (see
//! `helix_stream::gst::worker`). Hosts may instead call `worker_main` from a hidden
//! subcommand of their own binary, as `helix stream-worker` does.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(helix_stream::gst::worker::worker_main(&args));
}
