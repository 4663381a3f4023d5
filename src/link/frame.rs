//! Frames: a 4-byte big-endian length, then that many bytes of JSON.
//!
//! Blocking helpers for the command line and the dashboard, async ones for
//! the supervisor's tokio server. A length past the reader's limit is an
//! error before a byte of the body is read, so a peer that streams without
//! a frame boundary costs at most one limit of memory.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The largest frame a client may send (a paste, a prompt).
pub const MAX_CLIENT_FRAME: u32 = 4 << 20;
/// The largest frame the supervisor sends (a board with big diffs).
pub const MAX_SERVER_FRAME: u32 = 256 << 20;
/// How long the rest of a frame may take once its length has arrived: a
/// peer that starts a frame and stalls is cut off, not waited for.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("a frame of {len} bytes is over the limit of {max}")]
    TooLarge { len: u32, max: u32 },
    #[error("a frame of {len} bytes did not arrive whole within {BODY_TIMEOUT:?}")]
    Stalled { len: u32 },
    #[error("a frame is not a message: {0}")]
    Garbage(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The bytes of one frame carrying `message`.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut frame = vec![0; 4];
    // Our own types always serialize: they are plain data with string keys.
    serde_json::to_writer(&mut frame, message).expect("protocol messages serialize");
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}

pub fn write_frame<T: Serialize>(out: &mut impl Write, message: &T) -> std::io::Result<()> {
    out.write_all(&encode(message))?;
    out.flush()
}

/// Reads one frame; `None` when the peer closed between frames.
pub fn read_frame<T: DeserializeOwned>(
    input: &mut impl Read,
    max: u32,
) -> Result<Option<T>, FrameError> {
    let mut len = [0; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0; len as usize];
    input.read_exact(&mut body)?;
    Ok(Some(serde_json::from_slice(&body)?))
}

/// Reads one frame's body; `None` when the peer closed between frames. The
/// body must follow its length within [`BODY_TIMEOUT`].
pub async fn read_frame_async(
    input: &mut (impl AsyncRead + Unpin),
    max: u32,
) -> Result<Option<Vec<u8>>, FrameError> {
    let len = match input.read_u32().await {
        Ok(len) => len,
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0; len as usize];
    tokio::time::timeout(BODY_TIMEOUT, input.read_exact(&mut body))
        .await
        .map_err(|_| FrameError::Stalled { len })??;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused_unread() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &vec!["a", "b"]).unwrap();
        let back: Vec<String> = read_frame(&mut bytes.as_slice(), 100).unwrap().unwrap();
        assert_eq!(back, ["a", "b"]);
        assert!(
            read_frame::<Vec<String>>(&mut &b""[..], 100)
                .unwrap()
                .is_none()
        );
        let huge = [0xff, 0xff, 0xff, 0xff, b'x'];
        assert!(matches!(
            read_frame::<Vec<String>>(&mut &huge[..], 100),
            Err(FrameError::TooLarge { .. })
        ));
        let garbage = [0, 0, 0, 3, b'{', b'{', b'{'];
        assert!(matches!(
            read_frame::<Vec<String>>(&mut &garbage[..], 100),
            Err(FrameError::Garbage(_))
        ));
    }
}
