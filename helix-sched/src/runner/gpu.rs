//! The GPUs of a runner: probed through NVML, or declared in config.

use std::fmt::Debug;
use std::str::FromStr;

use crate::runner::config::parse_size;
use crate::{GpuInfo, Result, SchedError};

/// Reports the GPUs of this machine.
pub trait GpuProbe: Send + Sync + Debug + 'static {
    /// The GPUs, in index order.
    fn probe(&self) -> Result<Vec<GpuInfo>>;
}

/// GPUs declared by the operator instead of probed: for machines without NVML (no
/// NVIDIA driver, other vendors) and for CPU-only runners.
///
/// Each declaration is `NAME:SIZE`, for example `NVIDIA H100:80GiB` or `cpu:16GiB`;
/// the index of a GPU is its position in the list (declare them in `CUDA_VISIBLE_DEVICES`
/// order). Free memory is reported equal to total. A device named `cpu` stands for
/// the machine's memory: instances placed on it run without a GPU.
///
/// ```
/// # use helix_sched::runner::{DeclaredGpus, GpuProbe};
/// let gpus = DeclaredGpus::parse(["NVIDIA H100:80GiB", "NVIDIA H100:80GiB"])?;
/// let probed = gpus.probe()?;
/// assert_eq!(probed[1].index, 1);
/// assert_eq!(probed[1].total_bytes, 80 << 30);
/// // The same list as one command-line string:
/// assert_eq!("NVIDIA H100:80GiB,NVIDIA H100:80GiB".parse::<DeclaredGpus>()?, gpus);
/// # Ok::<(), helix_sched::SchedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeclaredGpus {
    gpus: Vec<GpuInfo>,
}

impl DeclaredGpus {
    /// GPUs as given.
    pub fn new(gpus: Vec<GpuInfo>) -> Self {
        Self { gpus }
    }

    /// Parses one `NAME:SIZE` declaration per GPU; indexes follow the order.
    pub fn parse<I, S>(declarations: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let gpus = declarations
            .into_iter()
            .enumerate()
            .map(|(index, decl)| parse_declaration(index, decl.as_ref()))
            .collect::<Result<_>>()?;
        Ok(Self { gpus })
    }

    /// The declared GPUs.
    pub fn gpus(&self) -> &[GpuInfo] {
        &self.gpus
    }
}

/// A comma-separated list of `NAME:SIZE` declarations.
impl FromStr for DeclaredGpus {
    type Err = SchedError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s.split(',').map(str::trim).filter(|d| !d.is_empty()))
    }
}

impl GpuProbe for DeclaredGpus {
    fn probe(&self) -> Result<Vec<GpuInfo>> {
        Ok(self.gpus.clone())
    }
}

fn parse_declaration(index: usize, decl: &str) -> Result<GpuInfo> {
    let bad = |reason: String| SchedError::InvalidConfig {
        what: format!("gpu declaration {decl:?}"),
        reason,
    };
    let (name, size) = decl
        .rsplit_once(':')
        .ok_or_else(|| bad("expected NAME:SIZE, for example \"NVIDIA H100:80GiB\"".into()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("the name is empty".into()));
    }
    let total_bytes = parse_size(size).map_err(|e| bad(e.to_string()))?;
    if total_bytes == 0 {
        return Err(bad("the size is zero".into()));
    }
    Ok(GpuInfo {
        index: u32::try_from(index).map_err(|_| bad("too many gpus".into()))?,
        name: name.to_owned(),
        total_bytes,
        free_bytes: total_bytes,
    })
}

/// Whether a GPU entry stands for the machine's CPU and memory (a declared `cpu`).
pub fn is_cpu_device(gpu: &GpuInfo) -> bool {
    gpu.name.eq_ignore_ascii_case("cpu")
}

/// GPUs probed through NVML (cargo feature `nvml`).
///
/// NVML (`libnvidia-ml.so`, shipped with the NVIDIA driver) is loaded at run time:
/// [`NvmlProbe::new`] fails with a clear error on machines without the driver. Built
/// without the `nvml` feature, it fails with code `built_without`.
#[cfg(feature = "nvml")]
pub struct NvmlProbe {
    nvml: nvml_wrapper::Nvml,
}

#[cfg(feature = "nvml")]
impl NvmlProbe {
    /// Loads NVML and initialises it.
    pub fn new() -> Result<Self> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| SchedError::GpuProbe {
            reason: format!("cannot initialise nvml (is the nvidia driver installed?): {e}"),
        })?;
        Ok(Self { nvml })
    }
}

#[cfg(feature = "nvml")]
impl GpuProbe for NvmlProbe {
    fn probe(&self) -> Result<Vec<GpuInfo>> {
        let nvml_err = |what: &str, e: nvml_wrapper::error::NvmlError| SchedError::GpuProbe {
            reason: format!("nvml {what}: {e}"),
        };
        let count = self
            .nvml
            .device_count()
            .map_err(|e| nvml_err("device count", e))?;
        (0..count)
            .map(|index| {
                let device = self
                    .nvml
                    .device_by_index(index)
                    .map_err(|e| nvml_err("device", e))?;
                let memory = device
                    .memory_info()
                    .map_err(|e| nvml_err("memory info", e))?;
                Ok(GpuInfo {
                    index,
                    name: device.name().map_err(|e| nvml_err("device name", e))?,
                    total_bytes: memory.total,
                    free_bytes: memory.free,
                })
            })
            .collect()
    }
}

#[cfg(feature = "nvml")]
impl Debug for NvmlProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlProbe").finish_non_exhaustive()
    }
}

/// GPUs probed through NVML: this build has no `nvml` feature, so every call fails
/// with code `built_without`.
#[cfg(not(feature = "nvml"))]
#[derive(Debug)]
pub struct NvmlProbe {
    _private: (),
}

#[cfg(not(feature = "nvml"))]
impl NvmlProbe {
    /// Fails: built without the `nvml` feature.
    pub fn new() -> Result<Self> {
        Err(SchedError::BuiltWithout { feature: "nvml" })
    }
}

#[cfg(not(feature = "nvml"))]
impl GpuProbe for NvmlProbe {
    fn probe(&self) -> Result<Vec<GpuInfo>> {
        Err(SchedError::BuiltWithout { feature: "nvml" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_parse_with_units_and_positions() {
        let gpus = DeclaredGpus::parse(["NVIDIA H100:80GiB", "RTX 4090: 24 GB", "cpu:512MiB"])
            .expect("parse")
            .probe()
            .expect("probe");
        assert_eq!(
            gpus,
            vec![
                GpuInfo {
                    index: 0,
                    name: "NVIDIA H100".into(),
                    total_bytes: 80 << 30,
                    free_bytes: 80 << 30,
                },
                GpuInfo {
                    index: 1,
                    name: "RTX 4090".into(),
                    total_bytes: 24_000_000_000,
                    free_bytes: 24_000_000_000,
                },
                GpuInfo {
                    index: 2,
                    name: "cpu".into(),
                    total_bytes: 512 << 20,
                    free_bytes: 512 << 20,
                },
            ]
        );
        assert!(is_cpu_device(&gpus[2]));
        assert!(!is_cpu_device(&gpus[0]));
        // A name may itself contain colons: the size is after the last one.
        let gpus = DeclaredGpus::parse(["GPU:0:16GiB"]).expect("parse");
        assert_eq!(gpus.gpus()[0].name, "GPU:0");
    }

    #[test]
    fn bad_declarations_name_the_input() {
        for (decl, needle) in [
            ("H100", "expected NAME:SIZE"),
            (":80GiB", "name is empty"),
            ("H100:80 parsecs", "unit must be"),
            ("H100:0GiB", "size is zero"),
            ("H100:", "no number"),
        ] {
            let err = DeclaredGpus::parse([decl]).expect_err(decl);
            assert_eq!(err.code(), "invalid_config");
            let msg = err.to_string();
            assert!(msg.contains(decl), "{msg}");
            assert!(msg.contains(needle), "{decl}: {msg}");
        }
    }

    #[test]
    fn comma_list_form() {
        let gpus: DeclaredGpus = "a:1GiB, b:2GiB".parse().expect("parse");
        assert_eq!(gpus.gpus().len(), 2);
        assert_eq!(gpus.gpus()[1].index, 1);
        assert_eq!(gpus.gpus()[1].total_bytes, 2 << 30);
    }

    #[cfg(not(feature = "nvml"))]
    #[test]
    fn nvml_stub_says_built_without() {
        let err = NvmlProbe::new().expect_err("stub");
        assert_eq!(err.code(), "built_without");
        assert_eq!(err.to_string(), "built without nvml");
        assert!(!err.is_user_error());
    }

    #[cfg(feature = "nvml")]
    #[test]
    fn nvml_without_a_driver_is_a_clear_error() {
        // CI machines have no NVIDIA driver; on a GPU host this probes real GPUs.
        match NvmlProbe::new() {
            Ok(probe) => {
                let gpus = probe.probe().expect("probe");
                for gpu in gpus {
                    assert!(gpu.total_bytes >= gpu.free_bytes, "{gpu:?}");
                }
            }
            Err(err) => {
                eprintln!("no nvml here: {err}");
                assert_eq!(err.code(), "gpu_probe");
                assert!(err.to_string().contains("nvml"), "{err}");
            }
        }
    }
}
