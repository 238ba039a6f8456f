//! The socket's frame reader ([`FrameReader`]), fed as the socket task feeds it: what the
//! client sent after its request head first, then reads of any size.
//!
//! Properties:
//! - it never panics, whatever the bytes and however they are cut;
//! - the frames (and the error that ends them) do not depend on how the stream is cut;
//! - a stream of client frames built here (masked or not, fragmented, control frames, the
//!   three length forms, payloads around the size limit, reserved bits, unknown opcodes)
//!   decodes to exactly the frames an RFC 6455 reader owes, or the error that ends it;
//! - no data frame over the size limit and no control frame over 125 bytes gets through;
//! - memory stays bounded: waiting for more bytes, it holds less than one header and one
//!   frame of the largest size, however large a length the client announces;
//! - its buffer is released whenever a frame leaves it empty.

use actix_http::ws::{CloseCode, CloseReason, Frame, Item, OpCode, ProtocolError};
use bytes::Bytes;

use super::Source;
use crate::ws::transport::FrameReader;

/// The longest frame header: 2 bytes, a 64-bit length, a mask.
const HEADER_MAX: usize = 2 + 8 + 4;

/// A decoded frame, or the error that ended the stream (by its debug text: the errors are
/// not comparable otherwise).
type Outcome = Result<Frame, String>;

pub fn check(data: &[u8]) {
    let mut src = Source::new(data);
    let max_frame = match src.u8() % 8 {
        0 => 0,
        1 => 125,
        2 => 126,
        3 => 1024,
        4 => 65_535,
        5 => 128 * 1024,
        _ => usize::from(src.u16() % 2048),
    };
    if src.bool() {
        raw(&mut src, max_frame);
    } else {
        built(&mut src, max_frame);
    }
}

/// Arbitrary bytes: read whole and cut in pieces, the outcomes must agree.
fn raw(src: &mut Source<'_>, max_frame: usize) {
    let style = src.u8();
    let leftover = src.below(64);
    let chunk_seed = src.u64();
    let stream = src.rest();
    let whole = read(max_frame, stream, &[stream.len()]);
    let cuts = cuts(stream.len(), leftover, style, chunk_seed);
    let pieces = read(max_frame, stream, &cuts);
    assert_eq!(
        whole, pieces,
        "the frames depend on how the stream is cut (max_frame {max_frame}, cuts {cuts:?})"
    );
}

/// Piece lengths for a stream: the leftover first, then pieces of one byte (`style` 1),
/// of random sizes up to `style`, or the rest at once (`style` 0).
fn cuts(len: usize, leftover: usize, style: u8, seed: u64) -> Vec<usize> {
    // Reads of one byte over a long stream cost much and find nothing more.
    let style = if style == 1 && len > 1 << 16 {
        u8::MAX
    } else {
        style
    };
    let mut cuts = vec![leftover.min(len)];
    let mut left = len - cuts[0];
    let mut state = seed | 1;
    while left > 0 {
        let n = match style {
            0 => left,
            1 => 1,
            _ => {
                // xorshift64: cheap, deterministic in the input.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                1 + (state % u64::from(style)) as usize
            }
        };
        let n = n.min(left);
        cuts.push(n);
        left -= n;
    }
    cuts
}

/// Feeds `stream` in pieces of the given lengths (the first as the handshake's leftover)
/// and drains the reader after each, as the socket task does; checks the reader's
/// invariants at every step. Stops at the first error.
fn read(max_frame: usize, stream: &[u8], pieces: &[usize]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let (&leftover, pieces) = pieces.split_first().unwrap_or((&0, &[]));
    let mut reader = FrameReader::with_leftover(max_frame, &stream[..leftover]);
    let mut at = leftover;
    // The largest read so far: the buffer may keep that much allocated until it empties.
    let mut largest = leftover;
    if drain(&mut reader, max_frame, largest, &mut outcomes) {
        return outcomes;
    }
    for &n in pieces {
        reader.feed(&stream[at..at + n]);
        at += n;
        largest = largest.max(n);
        if drain(&mut reader, max_frame, largest, &mut outcomes) {
            break;
        }
    }
    outcomes
}

/// Takes every complete frame, as the socket task does before its next read; `true` when
/// the stream ended in an error.
fn drain(
    reader: &mut FrameReader,
    max_frame: usize,
    largest: usize,
    out: &mut Vec<Outcome>,
) -> bool {
    // The socket reads at most 16 KiB at a time: what it holds stays within a few of those
    // and one frame of the largest size.
    assert!(
        reader.capacity() <= 4 * (HEADER_MAX + max_frame + largest) + 64,
        "the reader holds {} bytes of buffer for {} buffered (max_frame {max_frame})",
        reader.capacity(),
        reader.buffered()
    );
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                check_frame(&frame, max_frame);
                if reader.buffered() == 0 {
                    assert_eq!(reader.capacity(), 0, "an empty buffer is not released");
                }
                out.push(Ok(frame));
            }
            Ok(None) => {
                assert!(
                    reader.buffered() < HEADER_MAX + max_frame,
                    "the reader holds {} bytes waiting for one frame (max_frame {max_frame})",
                    reader.buffered()
                );
                return false;
            }
            Err(e) => {
                out.push(Err(format!("{e:?}")));
                return true;
            }
        }
    }
}

fn check_frame(frame: &Frame, max_frame: usize) {
    let (len, control) = match frame {
        Frame::Text(b) | Frame::Binary(b) => (b.len(), false),
        Frame::Continuation(
            Item::FirstText(b) | Item::FirstBinary(b) | Item::Continue(b) | Item::Last(b),
        ) => (b.len(), false),
        Frame::Ping(b) | Frame::Pong(b) => (b.len(), true),
        Frame::Close(reason) => {
            let len = reason
                .as_ref()
                .map_or(0, |r| 2 + r.description.as_ref().map_or(0, String::len));
            (len, true)
        }
    };
    assert!(
        len <= max_frame,
        "a {len}-byte frame passed a {max_frame}-byte limit"
    );
    if control {
        assert!(len <= 125, "a {len}-byte control frame passed");
    }
}

/// One frame as a client might send it.
struct Spec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    /// The length announced in the header.
    announced: u64,
    /// 0: the shortest length form; 1: 16-bit; 2: 64-bit (longer forms are allowed).
    form: u8,
    payload: Vec<u8>,
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(if self.fin { 0x80 } else { 0 } | self.rsv | self.opcode);
        let mask_bit = if self.masked { 0x80 } else { 0 };
        let form = if self.announced > u64::from(u16::MAX) {
            2
        } else if self.announced > 125 {
            self.form.max(1)
        } else {
            self.form
        };
        match form {
            0 => out.push(mask_bit | self.announced as u8),
            1 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(self.announced as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&self.announced.to_be_bytes());
            }
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
        }
        let mask = if self.masked { self.mask } else { [0; 4] };
        out.extend(
            self.payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4]),
        );
    }
}

/// A stream built from frame specs: decoded in random pieces, it must give exactly what
/// [`expected`] says.
fn built(src: &mut Source<'_>, max_frame: usize) {
    let mut specs = Vec::new();
    let count = 1 + src.below(12);
    for _ in 0..count {
        let spec = spec(src, max_frame);
        let ends = spec.announced as usize != spec.payload.len();
        specs.push(spec);
        if ends {
            // The rest of an oversized frame is never sent here.
            break;
        }
    }
    let mut stream = Vec::new();
    for spec in &specs {
        spec.encode(&mut stream);
    }
    let want = expected(&specs, max_frame);
    let style = src.u8();
    let cuts = cuts(stream.len(), src.below(32), style, src.u64());
    let got = read(max_frame, &stream, &cuts);
    assert_eq!(
        got, want,
        "the reader does not decode built frames as RFC 6455 says (max_frame {max_frame})"
    );
}

fn spec(src: &mut Source<'_>, max_frame: usize) -> Spec {
    let opcode = match src.u8() % 16 {
        0..=4 => 1,
        5..=6 => 2,
        7..=8 => 0,
        9 => 8,
        10 => 9,
        11 => 10,
        _ => src.u8() & 0x0f,
    };
    let flags = src.u8();
    let fin = flags & 0x03 != 0;
    let rsv = if flags & 0x1c == 0x1c {
        src.u8() & 0x70
    } else {
        0
    };
    let masked = flags & 0xe0 != 0xe0;
    let form = (flags >> 5) % 3;
    let mut mask = [0; 4];
    mask.iter_mut().for_each(|b| *b = src.u8());
    let len = match src.u8() % 10 {
        0 => 0,
        1 => max_frame,
        2 => max_frame.saturating_sub(1),
        3 => 125 + src.below(3),
        4 => 65_535 + src.below(3),
        // Over the limit: announced, then not (all) sent.
        5 => {
            let over = max_frame as u64 + 1 + u64::from(src.u32());
            return oversized(fin, rsv, opcode, masked, mask, form, over, src);
        }
        6 => {
            // A length with the most significant bit set (never valid).
            let over = (1 << 63) | src.u64();
            return oversized(fin, rsv, opcode, masked, mask, form, over, src);
        }
        7 => 2 + src.below(40),
        _ => src.below(20),
    };
    let payload = if opcode == 8 && len >= 2 && src.bool() {
        // A close frame: a code (valid or not) and a reason (UTF-8 or not).
        let code: u16 = src.pick(&[
            1000, 1001, 1002, 1003, 1004, 1005, 1007, 1011, 1014, 1015, 2999, 3000, 4999, 5000, 0,
        ]);
        let mut p = code.to_be_bytes().to_vec();
        p.extend((0..len - 2).map(|i| match src.u8() {
            0 => 0xff,
            b => b'a' + (b.wrapping_add(i as u8) % 26),
        }));
        p
    } else {
        let bytes = src.bytes(len).to_vec();
        let mut p = bytes;
        // Past the input: a pattern, so long payloads cost no input.
        p.extend((p.len()..len).map(|i| i as u8));
        p
    };
    Spec {
        fin,
        rsv,
        opcode,
        masked,
        mask,
        announced: len as u64,
        form,
        payload,
    }
}

#[allow(clippy::too_many_arguments)]
fn oversized(
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    form: u8,
    announced: u64,
    src: &mut Source<'_>,
) -> Spec {
    let sent = src.below(256);
    Spec {
        fin,
        rsv,
        opcode,
        masked,
        mask,
        announced,
        form,
        payload: (0..sent).map(|i| i as u8).collect(),
    }
}

/// What an RFC 6455 server reader owes for these frames (with actix-http's choice of
/// errors): the frames in order, up to the first error, which ends the stream.
fn expected(specs: &[Spec], max_frame: usize) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut fragmented = false;
    for spec in specs {
        let outcome = expect_one(spec, max_frame, &mut fragmented);
        let stop = outcome.is_err();
        match outcome {
            Ok(Some(frame)) => out.push(Ok(frame)),
            Ok(None) => return out,
            Err(e) => out.push(Err(format!("{e:?}"))),
        }
        if stop {
            break;
        }
    }
    out
}

/// `Ok(None)`: the frame is incomplete and ends the stream.
fn expect_one(
    spec: &Spec,
    max_frame: usize,
    fragmented: &mut bool,
) -> Result<Option<Frame>, ProtocolError> {
    if spec.rsv != 0 {
        return Err(ProtocolError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "Received a frame with non-zero reserved bits",
        )));
    }
    if !spec.masked {
        return Err(ProtocolError::UnmaskedFrame);
    }
    let op = OpCode::from(spec.opcode);
    if op == OpCode::Bad {
        return Err(ProtocolError::InvalidOpcode(spec.opcode));
    }
    // Refused as soon as the header shows it: a client cannot make the server hold (or wait
    // for) more than one frame of the largest size.
    if spec.announced > i64::MAX as u64 || spec.announced > max_frame as u64 {
        return Err(ProtocolError::Overflow);
    }
    if spec.payload.len() as u64 != spec.announced {
        return Ok(None);
    }
    let len = spec.payload.len();
    let payload = Bytes::from(spec.payload.clone());
    let control = matches!(op, OpCode::Close | OpCode::Ping | OpCode::Pong);
    if control && len > 125 {
        return Err(ProtocolError::InvalidLength(len));
    }
    if !spec.fin {
        return match op {
            OpCode::Continue if *fragmented => {
                Ok(Some(Frame::Continuation(Item::Continue(payload))))
            }
            OpCode::Continue => Err(ProtocolError::ContinuationNotStarted),
            OpCode::Text | OpCode::Binary if *fragmented => Err(ProtocolError::ContinuationStarted),
            OpCode::Text => {
                *fragmented = true;
                Ok(Some(Frame::Continuation(Item::FirstText(payload))))
            }
            OpCode::Binary => {
                *fragmented = true;
                Ok(Some(Frame::Continuation(Item::FirstBinary(payload))))
            }
            other => Err(ProtocolError::ContinuationFragment(other)),
        };
    }
    match op {
        OpCode::Continue if *fragmented => {
            *fragmented = false;
            Ok(Some(Frame::Continuation(Item::Last(payload))))
        }
        OpCode::Continue => Err(ProtocolError::ContinuationNotStarted),
        OpCode::Text | OpCode::Binary if *fragmented => Err(ProtocolError::ContinuationStarted),
        OpCode::Text => Ok(Some(Frame::Text(payload))),
        OpCode::Binary => Ok(Some(Frame::Binary(payload))),
        OpCode::Ping => Ok(Some(Frame::Ping(payload))),
        OpCode::Pong => Ok(Some(Frame::Pong(payload))),
        OpCode::Close => close(&payload).map(|reason| Some(Frame::Close(reason))),
        OpCode::Bad => Err(ProtocolError::BadOpCode),
    }
}

/// A close frame's payload: empty, or a code of RFC 6455 §7.4 and a UTF-8 reason.
fn close(payload: &[u8]) -> Result<Option<CloseReason>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidLength(1)),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(ProtocolError::BadOpCode);
            }
            let description = match std::str::from_utf8(reason) {
                Ok("") => None,
                Ok(text) => Some(text.to_owned()),
                Err(_) => return Err(ProtocolError::BadOpCode),
            };
            Ok(Some(CloseReason {
                code: CloseCode::from(code),
                description,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_reader_holds_its_properties() {
        super::super::runner::check("ws_reader", 3000, check);
    }
}
