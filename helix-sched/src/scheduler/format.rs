//! Human forms of bytes and durations for decision reasons and the text view.

use std::time::Duration;

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// `15.0 GiB`, `512.0 MiB`, `12 B`.
pub(crate) fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else if f >= MIB {
        format!("{:.1} MiB", f / MIB)
    } else {
        format!("{n} B")
    }
}

/// `5m0s`, `42s`, `750ms`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `gpu 0` or `gpus 0,1`.
pub(crate) fn gpus(indexes: &[u32]) -> String {
    let list: Vec<String> = indexes.iter().map(u32::to_string).collect();
    if indexes.len() == 1 {
        format!("gpu {}", list[0])
    } else {
        format!("gpus {}", list.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_forms() {
        assert_eq!(bytes(15 << 30), "15.0 GiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(512 << 20), "512.0 MiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_millis(750)), "750ms");
        assert_eq!(gpus(&[0]), "gpu 0");
        assert_eq!(gpus(&[0, 1]), "gpus 0,1");
    }
}
