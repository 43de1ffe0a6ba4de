//! The blocking calls the fs engine runs on its pool threads, in plain std Rust. Each
//! returns what the Python side turns into the value `os`/`open` would give.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::IntoRawFd;
use std::path::PathBuf;

use aioxide_core::fs::Outcome;

/// What `open` hands back: the descriptor, the preferred block size, the position.
/// It owns the descriptor until `into_parts` hands it to Python: an `Opened` that is
/// never delivered (its loop closed while the pool was still opening) closes it.
pub struct Opened {
    fd: i32,
    blksize: u64,
    position: u64,
}

impl Opened {
    pub fn into_parts(mut self) -> (i32, u64, u64) {
        let fd = std::mem::replace(&mut self.fd, -1);
        (fd, self.blksize, self.position)
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        if self.fd >= 0 {
            // Nobody will ever see this descriptor; an error closing it has no one to go to.
            let _ = aioxide_core::sys::file::close(self.fd);
        }
    }
}

/// The numbers of a `stat` call, in `os.stat_result` order plus the extra fields.
pub struct Stat(pub [i64; 16]);

fn value<T: Send + 'static>(v: T) -> io::Result<Outcome> {
    Ok(Outcome::Value(Box::new(v)))
}

/// `open(2)` with asyncio-independent, built-in-`open` semantics: a directory opened for
/// reading is `EISDIR`; append mode starts at the end.
pub fn open(path: PathBuf, flags: i32, mode: u32) -> io::Result<Outcome> {
    let access = flags & libc::O_ACCMODE;
    let file = OpenOptions::new()
        .read(access == libc::O_RDONLY || access == libc::O_RDWR)
        .write(access == libc::O_WRONLY || access == libc::O_RDWR)
        .custom_flags(flags & !libc::O_ACCMODE)
        .mode(mode)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    let mut file = file;
    let position = if flags & libc::O_APPEND != 0 {
        file.seek(SeekFrom::End(0))?
    } else {
        0
    };
    value(Opened {
        fd: file.into_raw_fd(),
        blksize: meta.blksize(),
        position,
    })
}

/// close(2), reporting its error (EIO on some filesystems) as built-in `close` does.
pub fn close(fd: i32) -> io::Result<Outcome> {
    aioxide_core::sys::file::close(fd).map(|()| Outcome::Done)
}

pub fn ftruncate(fd: i32, size: i64) -> io::Result<Outcome> {
    aioxide_core::sys::file::ftruncate(fd, size).map(|()| Outcome::Done)
}

fn stat_numbers(meta: &fs::Metadata) -> Stat {
    Stat([
        i64::from(meta.mode()),
        meta.ino() as i64,
        meta.dev() as i64,
        meta.nlink() as i64,
        i64::from(meta.uid()),
        i64::from(meta.gid()),
        meta.size() as i64,
        meta.atime(),
        meta.mtime(),
        meta.ctime(),
        meta.atime_nsec(),
        meta.mtime_nsec(),
        meta.ctime_nsec(),
        meta.blksize() as i64,
        meta.blocks() as i64,
        meta.rdev() as i64,
    ])
}

pub fn stat(path: PathBuf, follow_symlinks: bool) -> io::Result<Outcome> {
    let meta = if follow_symlinks {
        fs::metadata(path)?
    } else {
        fs::symlink_metadata(path)?
    };
    value(stat_numbers(&meta))
}

pub fn fstat(fd: i32) -> io::Result<Outcome> {
    value(Stat(aioxide_core::sys::file::fstat(fd)?))
}

pub fn remove(path: PathBuf) -> io::Result<Outcome> {
    fs::remove_file(path).map(|()| Outcome::Done)
}

pub fn rename(src: PathBuf, dst: PathBuf) -> io::Result<Outcome> {
    fs::rename(src, dst).map(|()| Outcome::Done)
}

/// `os.makedirs`: parents with mode 0o777, the leaf with `mode`; an existing leaf is an
/// error unless `exist_ok` and it is a directory.
pub fn makedirs(path: PathBuf, mode: u32, exist_ok: bool) -> io::Result<Outcome> {
    if let Ok(meta) = fs::metadata(&path) {
        if exist_ok && meta.is_dir() {
            return Ok(Outcome::Done);
        }
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err())
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o777)
            .create(parent)?;
    }
    match fs::DirBuilder::new().mode(mode).create(&path) {
        Err(e) if exist_ok && e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {
            Ok(Outcome::Done)
        }
        other => other.map(|()| Outcome::Done),
    }
}

/// Directory entries as raw names, in the order the kernel gives them (as `os.listdir`).
pub fn listdir(path: PathBuf) -> io::Result<Outcome> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    for entry in fs::read_dir(path)? {
        names.push(entry?.file_name().as_bytes().to_vec());
    }
    value(names)
}

/// The whole content of a file, in one pool trip.
pub fn read_file(path: PathBuf) -> io::Result<Outcome> {
    let mut file = fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    let mut data = Vec::with_capacity(meta.len() as usize + 1);
    file.read_to_end(&mut data)?;
    value(data)
}

/// Create or truncate a file and write `data` to it, in one pool trip.
pub fn write_file(path: PathBuf, data: Vec<u8>) -> io::Result<Outcome> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)?;
    file.write_all(&data)?;
    Ok(Outcome::Bytes(data.len()))
}
