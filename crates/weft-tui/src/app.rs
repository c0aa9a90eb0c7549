//! The terminal side: entering and leaving the full-screen mode safely, and
//! the main loop that merges key presses with what the source feeds.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::live::FeedSource;
use crate::state::{Change, TopState};
use crate::ui;

/// Puts the terminal in raw, alternate-screen mode and restores it when
/// dropped, whether the loop returns, fails or panics (a panic hook restores
/// it before the panic message is printed, so the message stays readable).
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, crossterm::cursor::Hide) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off.
/// Safe to call more than once.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// How often the screen is redrawn with nothing new (for countdowns).
const IDLE_REDRAW: Duration = Duration::from_secs(1);
/// How long to wait for a key before looking at the feed again.
const INPUT_WAIT: Duration = Duration::from_millis(100);

/// Runs `weft top` until the user quits: takes what `source` feeds (reports,
/// connection changes, details answers), handles keys and redraws.
pub fn run(mut state: TopState, source: &mut dyn FeedSource) -> io::Result<()> {
    // A terminating signal ends the loop like `q` does, so the guard below
    // restores the terminal (the default action would leave it raw).
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    quit_when_terminal_hangs_up();
    let mut guard = TerminalGuard::enter()?;
    let mut dirty = true;
    let mut last_draw = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        while let Some(f) = source.try_next() {
            state.apply(f);
            dirty = true;
        }
        if dirty || last_draw.elapsed() >= IDLE_REDRAW {
            guard.terminal.draw(|f| ui::draw(f, &state))?;
            dirty = false;
            last_draw = Instant::now();
        }
        if event::poll(INPUT_WAIT)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => match state.on_key(k) {
                    Change::Quit => break,
                    Change::RequestDetails => {
                        source.request_details();
                        dirty = true;
                    }
                    Change::SaveTrace => {
                        if let Some(f) = source.save_trace() {
                            state.apply(f);
                        }
                        dirty = true;
                    }
                    Change::Redraw => dirty = true,
                    Change::None => {}
                },
                Event::Resize(..) => {
                    guard.terminal.autoresize()?;
                    dirty = true;
                }
                _ => {}
            }
        }
    }
    drop(guard);
    Ok(())
}

/// A closed terminal (ssh dropped, terminal window closed) makes crossterm's
/// reader spin inside `event::poll` forever, and ratatui writes nothing when
/// nothing changed, so the main loop would never notice and weft would keep
/// polling the target with nobody watching. A watchdog thread blocks in
/// poll(2) on the terminal (no CPU) and ends the process when it hangs up;
/// there is no terminal left to restore.
fn quit_when_terminal_hangs_up() {
    let spawned = std::thread::Builder::new()
        .name("weft-tty-watch".into())
        .spawn(|| loop {
            let mut fds = libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: 0, // only hang-up and errors, which poll always reports
                revents: 0,
            };
            // SAFETY: one valid pollfd; poll(2) only writes `revents`.
            let n = unsafe { libc::poll(&mut fds, 1, -1) };
            if n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                // 128 + SIGHUP, as a shell reports a hung-up job.
                std::process::exit(129);
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return; // cannot watch; the signal handlers still apply
            }
        });
    if let Err(e) = spawned {
        eprintln!("weft top: cannot watch the terminal for hang-ups: {e}");
    }
}
