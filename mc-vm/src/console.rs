//! `mc-vm console`: the serial console's log, an interactive session, or a scripted exchange.

use std::{
    fs,
    io::{self, IsTerminal, Read, Write},
    os::unix::net::UnixStream,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{VmError, cli::ConsoleArgs, machine::State, qemu::Files};

/// The console: its log, an interactive session on a terminal, or stdin sent and the answer
/// printed.
pub fn console(state: &State, args: &ConsoleArgs) -> Result<(), VmError> {
    let machine = state.load(&args.name)?;
    let files = Files::new(state.dir(&args.name)?);
    if args.log {
        let log = fs::read(files.console()).map_err(VmError::io("reading", &files.console()))?;
        // Locked here only: the interactive session writes stdout from its own thread.
        return io::stdout()
            .lock()
            .write_all(&log)
            .map_err(VmError::io("writing", "stdout".as_ref()));
    }
    if files.running_pid().is_none() {
        return Err(VmError::NotRunning(machine.name));
    }
    let path = files.console_socket();
    let socket = UnixStream::connect(&path).map_err(VmError::io("connecting to", &path))?;
    if io::stdin().is_terminal() {
        interactive(socket, &path)
    } else {
        scripted(socket, &path, args)
    }
}

/// Sends stdin, then prints the answer until `--until` shows up or `--timeout` passes.
fn scripted(
    mut socket: UnixStream,
    path: &std::path::Path,
    args: &ConsoleArgs,
) -> Result<(), VmError> {
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(VmError::io("reading", "stdin".as_ref()))?;
    socket
        .write_all(&input)
        .map_err(VmError::io("writing to", path))?;
    let timeout = Duration::from_secs(args.timeout);
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut stdout = io::stdout().lock();
    let mut buf = [0; 4096];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(VmError::io("setting a timeout on", path))?;
        let read = match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(error) => return Err(VmError::io("reading from", path)(error)),
        };
        stdout
            .write_all(&buf[..read])
            .map_err(VmError::io("writing", "stdout".as_ref()))?;
        let _ = stdout.flush();
        seen.extend_from_slice(&buf[..read]);
        if let Some(until) = &args.until
            && seen
                .windows(until.len().max(1))
                .any(|w| w == until.as_bytes())
        {
            return Ok(());
        }
    }
    match &args.until {
        Some(until) => Err(VmError::ConsoleTimeout {
            until: until.clone(),
            seconds: args.timeout,
        }),
        None => Ok(()),
    }
}

/// Ctrl-], which ends an interactive session (as in telnet).
const ESCAPE: u8 = 0x1d;

/// A raw terminal wired to the console until Ctrl-] or the machine goes away.
fn interactive(socket: UnixStream, path: &std::path::Path) -> Result<(), VmError> {
    eprintln!("mc-vm: connected to the console; Ctrl-] leaves");
    let saved = stty(&["-g"]).unwrap_or_default();
    // stty works on the terminal it is given as stdin; a failure only costs line editing.
    let _ = stty(&["raw", "-echo"]);
    let mut reader = socket.try_clone().map_err(VmError::io("cloning", path))?;
    let restore = saved.trim().to_owned();
    thread::spawn(move || {
        let mut stdout = io::stdout();
        let mut buf = [0; 4096];
        while let Ok(read @ 1..) = reader.read(&mut buf) {
            if stdout
                .write_all(&buf[..read])
                .and_then(|()| stdout.flush())
                .is_err()
            {
                break;
            }
        }
        // QEMU closed the console (the machine stopped): leave without waiting for a key, as
        // telnet does; the main thread sits in a read of the terminal that nothing interrupts.
        let _ = stty(&[&restore]);
        eprintln!("\r\nmc-vm: the console closed (the machine stopped)");
        std::process::exit(0);
    });
    let mut writer = socket;
    let mut stdin = io::stdin().lock();
    let mut buf = [0; 1024];
    let result = loop {
        let read = match stdin.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(read) => read,
            Err(error) => break Err(VmError::io("reading", "stdin".as_ref())(error)),
        };
        let (bytes, done) = match buf[..read].iter().position(|&b| b == ESCAPE) {
            Some(end) => (&buf[..end], true),
            None => (&buf[..read], false),
        };
        if let Err(error) = writer.write_all(bytes) {
            break Err(VmError::io("writing to", path)(error));
        }
        if done {
            break Ok(());
        }
    };
    let _ = stty(&[saved.trim()]);
    eprintln!("\r\nmc-vm: left the console");
    result
}

fn stty(args: &[&str]) -> io::Result<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
