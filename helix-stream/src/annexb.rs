//! Annex B access units (H.264 byte streams): NAL units and parameter sets.

#![cfg_attr(not(feature = "nvenc"), allow(dead_code))]

/// The NAL unit type at each Annex B start code of `au`, with the unit's offset.
pub(crate) fn nal_units(au: &[u8]) -> Vec<(usize, u8)> {
    let mut units = Vec::new();
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            let start = if i > 0 && au[i - 1] == 0 { i - 1 } else { i };
            units.push((start, au[i + 3] & 0x1f));
            i += 3;
        } else {
            i += 1;
        }
    }
    units
}

/// `au`, with the stream's SPS and PPS in front when it is a keyframe without them;
/// remembers them from keyframes that have them.
pub(crate) fn with_parameter_sets(au: &[u8], keyframe: bool, saved: &mut Vec<u8>) -> Vec<u8> {
    if !keyframe {
        return au.to_vec();
    }
    let units = nal_units(au);
    let has_sps = units.iter().any(|(_, t)| *t == 7);
    if has_sps {
        if let Some((slice_at, _)) = units.iter().find(|(_, t)| *t == 5 || *t == 1) {
            *saved = au[..*slice_at].to_vec();
        }
        return au.to_vec();
    }
    let mut out = saved.clone();
    out.extend_from_slice(au);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_keyframes_get_the_parameter_sets_back() {
        let mut saved = Vec::new();
        let first = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9,
        ];
        assert_eq!(with_parameter_sets(&first, true, &mut saved), first);
        // SPS and PPS: everything before the IDR slice's start code.
        assert_eq!(saved, &first[..13]);
        let delta = [0, 0, 0, 1, 0x41, 7];
        assert_eq!(with_parameter_sets(&delta, false, &mut saved), delta);
        let idr = [0, 0, 0, 1, 0x65, 8];
        let fixed = with_parameter_sets(&idr, true, &mut saved);
        assert_eq!(&fixed[..13], &first[..13]);
        assert_eq!(&fixed[13..], idr);
        assert_eq!(
            nal_units(&fixed)
                .iter()
                .map(|(_, t)| *t)
                .collect::<Vec<_>>(),
            [7, 8, 5]
        );
    }
}
