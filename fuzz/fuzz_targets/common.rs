//! Input splitting shared by the targets: `[flags][len][part one][part two]`.

/// The parts of one fuzz input.
pub struct Parts<'a> {
    pub flags: u8,
    pub first: &'a [u8],
    pub rest: &'a [u8],
}

/// Splits `data`: one flag byte, one length byte, that many bytes, the rest.
pub fn split(data: &[u8]) -> Parts<'_> {
    let flags = data.first().copied().unwrap_or(0);
    let len = data.get(1).copied().unwrap_or(0) as usize;
    let tail = data.get(2..).unwrap_or(&[]);
    let at = len.min(tail.len());
    Parts {
        flags,
        first: &tail[..at],
        rest: &tail[at..],
    }
}
