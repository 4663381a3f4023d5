//! Files and folders only their owner reads: an agent's output (the
//! transcript), the supervisor's log, briefs, state and the journal can
//! hold secrets, so they are created 0600 and their folders 0700 whatever
//! the umask, and existing ones are narrowed when opened.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Creates `dir` and any missing parents 0700, and narrows `dir` itself to
/// 0700 if it was there already.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))
}

/// Opens `path` for appending, creating it 0600 (an existing file is
/// narrowed to 0600).
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates (or truncates) `path`, 0600.
pub fn create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `contents` to `path` whole (created or truncated), 0600: what
/// `std::fs::write` does, without the umask's say.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    create(path)?.write_all(contents)
}
