//! `mesascope tasks play`: a person plays a level in the terminal. With a terminal, the arrow
//! keys (or w/a/s/d) move, space waits, r restarts and q quits; without one (piped input), the
//! same letters are read from standard input, which makes sessions scriptable.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::Result;
use clap::Args;
use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use crossterm::{cursor, execute, terminal};
use mesascope_tasks::{render, reset, step, Action, Level};

use crate::render::LevelChoice;

/// Flags of `mesascope tasks play`.
#[derive(Args, Debug)]
pub struct PlayArgs {
    #[command(flatten)]
    choice: LevelChoice,
}

/// A player's command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Key {
    /// Take an action.
    Act(Action),
    /// Start the level again.
    Restart,
    /// Stop playing.
    Quit,
}

fn key_of_char(c: char) -> Option<Key> {
    Some(match c {
        'w' | 'k' => Key::Act(Action::Up),
        's' | 'j' => Key::Act(Action::Down),
        'a' | 'h' => Key::Act(Action::Left),
        'd' | 'l' => Key::Act(Action::Right),
        ' ' | '.' => Key::Act(Action::Noop),
        'r' => Key::Restart,
        'q' => Key::Quit,
        _ => return None,
    })
}

/// Plays `level` with `keys`, drawing each frame to `out` with line ends `eol`. Returns the
/// return of the last episode.
pub fn play(level: &Level, keys: impl Iterator<Item = Key>, out: &mut impl Write, eol: &str) -> io::Result<f32> {
    let mut state = reset(level);
    let mut ret = 0.0;
    let frame = |out: &mut dyn Write, s: &mesascope_tasks::State, ret: f32, msg: &str| -> io::Result<()> {
        for line in render::ascii(level, s).lines() {
            write!(out, "{line}{eol}")?;
        }
        write!(out, "step {}  return {ret:.2}  {msg}{eol}", s.t)?;
        out.flush()
    };
    frame(out, &state, ret, "arrows/wasd move, space waits, r restarts, q quits")?;
    for key in keys {
        let msg = match key {
            Key::Quit => break,
            Key::Restart => {
                state = reset(level);
                ret = 0.0;
                "restarted"
            }
            Key::Act(a) => {
                let tr = step(level, &mut state, a);
                ret += tr.reward;
                if tr.catastrophe {
                    "you stepped into lava: catastrophe (r restarts, q quits)"
                } else if tr.terminated {
                    "you reached the cheese! (r restarts, q quits)"
                } else if tr.truncated {
                    "out of time (r restarts, q quits)"
                } else {
                    ""
                }
            }
        };
        frame(out, &state, ret, msg)?;
    }
    Ok(ret)
}

/// Runs `mesascope tasks play`.
pub fn run(args: &PlayArgs) -> Result<()> {
    let level = args.choice.level()?;
    let mut stdout = io::stdout();
    if io::stdin().is_terminal() && stdout.is_terminal() {
        terminal::enable_raw_mode()?;
        let keys = std::iter::from_fn(|| loop {
            match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    let key = match k.code {
                        KeyCode::Up => Some(Key::Act(Action::Up)),
                        KeyCode::Down => Some(Key::Act(Action::Down)),
                        KeyCode::Left => Some(Key::Act(Action::Left)),
                        KeyCode::Right => Some(Key::Act(Action::Right)),
                        KeyCode::Esc => Some(Key::Quit),
                        KeyCode::Char(c) => key_of_char(c),
                        _ => None,
                    };
                    if let Some(key) = key {
                        let _ = execute!(io::stdout(), terminal::Clear(terminal::ClearType::All), cursor::MoveTo(0, 0));
                        return Some(key);
                    }
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        });
        let _ = execute!(stdout, terminal::Clear(terminal::ClearType::All), cursor::MoveTo(0, 0));
        let result = play(&level, keys, &mut stdout, "\r\n");
        terminal::disable_raw_mode()?;
        result?;
    } else {
        let mut input = String::new();
        io::stdin().read_to_string(&mut input)?;
        play(&level, input.chars().filter_map(key_of_char), &mut stdout, "\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesascope_tasks::maze::{MazeGenerator, MazeParams};
    use mesascope_tasks::ShortestPathToGoal;
    use rand::SeedableRng;

    #[test]
    fn scripted_play_reaches_the_cheese() {
        let params = MazeParams::default();
        let level = MazeGenerator::default().generate(&params, &mut rand_pcg::Pcg64Mcg::seed_from_u64(4));
        let path = mesascope_lab::trajectory(&level, &mut ShortestPathToGoal::default());
        let keys: String = path
            .windows(2)
            .map(|w| match w[1] as i32 - w[0] as i32 {
                1 => 'd',
                -1 => 'a',
                d if d > 0 => 's',
                _ => 'w',
            })
            .collect();
        let mut out = Vec::new();
        let ret = play(&level, keys.chars().filter_map(key_of_char), &mut out, "\n").unwrap();
        assert!((ret - (1.0 - 0.01 * (path.len() - 1) as f32)).abs() < 1e-5);
        assert!(String::from_utf8(out).unwrap().contains("you reached the cheese"));
    }
}
