//! Reads the values a property needs from fuzzer bytes. An exhausted source yields zeros,
//! so every input, however short, means something.

/// A cursor over fuzzer bytes.
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.u32() as usize % n }
    }

    /// One of `choices` (which must not be empty).
    pub fn pick<T: Clone>(&mut self, choices: &[T]) -> T {
        choices[self.u8() as usize % choices.len()].clone()
    }

    /// At most `n` bytes (fewer when the source runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    /// A string of at most `max` bytes of input, invalid UTF-8 replaced.
    pub fn string(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }
}
