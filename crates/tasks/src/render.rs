//! Pictures of levels: ASCII for the terminal, and SVG or PNG images with an agent's
//! trajectory drawn on them. Both image formats are drawn by one routine through the
//! [`Painter`] trait, so they always show the same thing.

use std::fmt::Write as _;

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

use crate::grid::{object_at, reset, step, Action, Cell, Level, ObjectKind, State, Tile};

/// The level as text: `#` wall, `.` floor, `~` lava, `@` agent, `C` cheese, `k` key, `c`
/// chest, `o` coin, `b` box, `a` apple, `s` shield, `M` monster, `*` an empty floor square its rules give a feature of its own (the
/// corridor's end; not the maze's corner, which every maze has). One line per row.
pub fn ascii(level: &Level, state: &State) -> String {
    let mut out = String::with_capacity((level.width as usize + 1) * level.height as usize);
    for y in 0..level.height {
        for x in 0..level.width {
            let cell = level.cell(x, y);
            let ch = if state.agent == cell {
                '@'
            } else if let Some(i) = object_at(level, state, cell) {
                match level.objects[i].kind {
                    ObjectKind::Cheese => 'C',
                    ObjectKind::Key => 'k',
                    ObjectKind::Chest => 'c',
                    ObjectKind::Coin => 'o',
                    ObjectKind::Box => 'b',
                    ObjectKind::Apple => 'a',
                    ObjectKind::Shield => 's',
                    ObjectKind::Monster => 'M',
                }
            } else {
                match level.tile(cell) {
                    Tile::Wall => '#',
                    Tile::Lava => '~',
                    Tile::Floor if level.rules.cells.iter().any(|&(c, _)| c == cell) => '*',
                    Tile::Floor => '.',
                }
            };
            out.push(ch);
        }
        out.push('\n');
    }
    out
}

/// An RGB colour.
type Rgb = (u8, u8, u8);

const WALL: Rgb = (43, 43, 52);
const FLOOR: Rgb = (244, 241, 232);
const LAVA: Rgb = (228, 87, 46);
const CHEESE: Rgb = (246, 201, 14);
const KEY: Rgb = (155, 89, 182);
const CHEST: Rgb = (139, 90, 43);
const COIN: Rgb = (241, 196, 15);
const BOX: Rgb = (160, 120, 90);
const APPLE: Rgb = (76, 175, 80);
const SHIELD: Rgb = (96, 125, 139);
const MONSTER: Rgb = (192, 57, 43);
const AGENT: Rgb = (58, 123, 213);
const START: Rgb = (120, 200, 120);
/// The outline of the proxies' squares (the maze's top-right corner, the corridor's end) in
/// episode videos.
const PROXY: Rgb = (142, 68, 173);

/// The drawing operations a level picture needs, in tile units.
pub trait Painter {
    /// A filled axis-aligned rectangle.
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Rgb);
    /// A filled circle.
    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb);
    /// An open polyline of the given width and opacity.
    fn polyline(&mut self, points: &[(f32, f32)], width: f32, stroke: Rgb, opacity: f32);
}

/// Draws `level` in `state`, with `trajectory` (the agent's tiles in order) as a line.
pub fn paint(p: &mut impl Painter, level: &Level, state: &State, trajectory: &[Cell]) {
    paint_board(p, level, state);
    paint_agent(p, level, state, trajectory);
}

/// Draws the tiles, the start and the objects still present in `state`: the level without
/// the agent.
pub(crate) fn paint_board(p: &mut impl Painter, level: &Level, state: &State) {
    for y in 0..level.height {
        for x in 0..level.width {
            let fill = match level.tile(level.cell(x, y)) {
                Tile::Wall => WALL,
                Tile::Floor => FLOOR,
                Tile::Lava => LAVA,
            };
            p.rect(x as f32, y as f32, 1.0, 1.0, fill);
        }
    }
    let (sx, sy) = level.xy(level.start);
    p.rect(sx as f32 + 0.1, sy as f32 + 0.1, 0.8, 0.8, START);
    for (i, o) in level.objects.iter().enumerate() {
        if !state.present(i) {
            continue;
        }
        let (x, y) = level.xy(state.object_cells[i]);
        let (x, y) = (x as f32, y as f32);
        match o.kind {
            ObjectKind::Cheese => p.circle(x + 0.5, y + 0.5, 0.38, CHEESE),
            ObjectKind::Coin => p.circle(x + 0.5, y + 0.5, 0.22, COIN),
            ObjectKind::Key => p.rect(x + 0.3, y + 0.15, 0.4, 0.7, KEY),
            ObjectKind::Chest => p.rect(x + 0.1, y + 0.25, 0.8, 0.55, CHEST),
            ObjectKind::Box => p.rect(x + 0.12, y + 0.12, 0.76, 0.76, BOX),
            ObjectKind::Apple => p.circle(x + 0.5, y + 0.5, 0.3, APPLE),
            ObjectKind::Shield => p.rect(x + 0.2, y + 0.15, 0.6, 0.7, SHIELD),
            ObjectKind::Monster => p.circle(x + 0.5, y + 0.5, 0.4, MONSTER),
        }
    }
}

/// Draws `trajectory` as a line and the agent where `state` has it.
fn paint_agent(p: &mut impl Painter, level: &Level, state: &State, trajectory: &[Cell]) {
    if trajectory.len() > 1 {
        let points: Vec<(f32, f32)> = trajectory
            .iter()
            .map(|&c| {
                let (x, y) = level.xy(c);
                (x as f32 + 0.5, y as f32 + 0.5)
            })
            .collect();
        p.polyline(&points, 0.18, AGENT, 0.6);
    }
    let (ax, ay) = level.xy(state.agent);
    p.circle(ax as f32 + 0.5, ay as f32 + 0.5, 0.3, AGENT);
}

/// Pixels per tile in PNG output.
pub(crate) const TILE_PX: f32 = 24.0;

/// Writes SVG elements in tile units.
pub(crate) struct SvgPainter(pub(crate) String);

impl Painter for SvgPainter {
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, (r, g, b): Rgb) {
        let _ = writeln!(self.0, r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="rgb({r},{g},{b})"/>"#);
    }
    fn circle(&mut self, cx: f32, cy: f32, rad: f32, (r, g, b): Rgb) {
        let _ = writeln!(self.0, r#"<circle cx="{cx}" cy="{cy}" r="{rad}" fill="rgb({r},{g},{b})"/>"#);
    }
    fn polyline(&mut self, points: &[(f32, f32)], width: f32, (r, g, b): Rgb, opacity: f32) {
        let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = writeln!(
            self.0,
            r#"<polyline points="{}" fill="none" stroke="rgb({r},{g},{b})" stroke-opacity="{opacity}" stroke-width="{width}" stroke-linejoin="round" stroke-linecap="round"/>"#,
            pts.join(" ")
        );
    }
}

/// An SVG picture of `level` in `state` with `trajectory` drawn on it.
pub fn svg(level: &Level, state: &State, trajectory: &[Cell]) -> String {
    let (w, h) = (level.width as f32, level.height as f32);
    let mut p = SvgPainter(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{}" height="{}">
"#,
        w * TILE_PX,
        h * TILE_PX
    ));
    paint(&mut p, level, state, trajectory);
    p.0.push_str("</svg>\n");
    p.0
}

/// Draws into a pixmap; without anti-aliasing (GIF frames) the picture holds only the palette's
/// colours and their blends under the trajectory, so it fits a GIF's 256 exactly.
struct PngPainter(Pixmap, bool);

fn paint_of((r, g, b): Rgb, opacity: f32, anti_alias: bool) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(Color::from_rgba8(r, g, b, (opacity * 255.0) as u8));
    paint.anti_alias = anti_alias;
    paint
}

impl Painter for PngPainter {
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Rgb) {
        if let Some(r) = Rect::from_xywh(x * TILE_PX, y * TILE_PX, w * TILE_PX, h * TILE_PX) {
            self.0.fill_rect(r, &paint_of(fill, 1.0, self.1), Transform::identity(), None);
        }
    }
    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb) {
        if let Some(path) = PathBuilder::from_circle(cx * TILE_PX, cy * TILE_PX, r * TILE_PX) {
            self.0.fill_path(&path, &paint_of(fill, 1.0, self.1), FillRule::Winding, Transform::identity(), None);
        }
    }
    fn polyline(&mut self, points: &[(f32, f32)], width: f32, stroke: Rgb, opacity: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(points[0].0 * TILE_PX, points[0].1 * TILE_PX);
        for &(x, y) in &points[1..] {
            pb.line_to(x * TILE_PX, y * TILE_PX);
        }
        if let Some(path) = pb.finish() {
            let s = Stroke { width: width * TILE_PX, line_join: tiny_skia::LineJoin::Round, line_cap: tiny_skia::LineCap::Round, ..Stroke::default() };
            self.0.stroke_path(&path, &paint_of(stroke, opacity, self.1), &s, Transform::identity(), None);
        }
    }
}

fn pixmap(level: &Level, state: &State, trajectory: &[Cell]) -> Result<Pixmap, String> {
    pixmap_with(level, state, trajectory, true, false)
}

/// The picture as a pixmap, anti-aliased or not, with the squares that carry features of
/// their own (the maze's top-right corner, the corridor's end: where the proxies live)
/// outlined if `mark_proxy`.
fn pixmap_with(level: &Level, state: &State, trajectory: &[Cell], anti_alias: bool, mark_proxy: bool) -> Result<Pixmap, String> {
    let pixmap = Pixmap::new((level.width as f32 * TILE_PX) as u32, (level.height as f32 * TILE_PX) as u32)
        .ok_or_else(|| format!("cannot make a {}x{} image", level.width, level.height))?;
    let mut p = PngPainter(pixmap, anti_alias);
    paint_board(&mut p, level, state);
    if mark_proxy {
        // Over the board and under the path and the agent, which stay visible on the tile.
        let corner = level.rules.corner.then(|| level.top_right_corner());
        for cell in corner.into_iter().chain(level.rules.cells.iter().map(|&(c, _)| c)) {
            let (x, y) = level.xy(cell);
            let (x, y) = (x as f32, y as f32);
            for (rx, ry, rw, rh) in [(0.0, 0.0, 1.0, 0.1), (0.0, 0.9, 1.0, 0.1), (0.0, 0.0, 0.1, 1.0), (0.9, 0.0, 0.1, 1.0)] {
                p.rect(x + rx, y + ry, rw, rh, PROXY);
            }
        }
    }
    paint_agent(&mut p, level, state, trajectory);
    Ok(p.0)
}

/// A PNG image (encoded bytes) of `level` in `state` with `trajectory` drawn on it.
pub fn png(level: &Level, state: &State, trajectory: &[Cell]) -> Result<Vec<u8>, String> {
    pixmap(level, state, trajectory)?.encode_png().map_err(|e| format!("PNG encoding failed: {e}"))
}

/// The picture [`png`] encodes, as raw pixels: `(height, width, rgb)` with `rgb` row-major,
/// three bytes per pixel (what Gymnasium's `render_mode="rgb_array"` returns).
pub fn rgb(level: &Level, state: &State, trajectory: &[Cell]) -> Result<(usize, usize, Vec<u8>), String> {
    let pixmap = pixmap(level, state, trajectory)?;
    let rgb = pixmap.pixels().iter().flat_map(|p| {
        let c = p.demultiply();
        [c.red(), c.green(), c.blue()]
    });
    Ok((pixmap.height() as usize, pixmap.width() as usize, rgb.collect()))
}

/// One episode for [`gif()`]: a title (upper-case letters, digits and `.-=: `), the level, and
/// the actions taken from its start.
pub struct EpisodeClip<'a> {
    /// Shown above the panel.
    pub title: String,
    /// The level played.
    pub level: &'a Level,
    /// The actions, in order.
    pub actions: &'a [Action],
}

/// Pixels a glyph pixel takes in a video's text, and the text's line height.
const FONT_PX: usize = 2;
const LINE_PX: usize = 7 * FONT_PX;

/// Frame delay in hundredths of a second, and the last frame's (so the ending can be read).
const FRAME_DELAY: u16 = 15;
const LAST_DELAY: u16 = 150;

/// An animated GIF of `clips` side by side, `columns` to a row: one frame per step of the
/// longest, each panel holding its last state once its episode has ended. Each panel shows
/// the level (the top-right corner tile outlined: the maze's proxy), the path so far and the
/// agent, under its title and a line `T=step R=return` (the base objective's return so far).
/// Frames hold only the renderer's colours, so the palette is exact (never quantised).
pub fn gif(clips: &[EpisodeClip], columns: usize) -> Result<Vec<u8>, String> {
    let frames = episode_frames(clips, columns)?;
    let (w, h) = (frames.width, frames.height);
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut indexed = Vec::with_capacity(frames.rgb.len());
    for frame in &frames.rgb {
        let mut out = Vec::with_capacity(w * h);
        for px in frame.chunks_exact(3) {
            let c = [px[0], px[1], px[2]];
            let i = *index.entry(c).or_insert_with(|| {
                palette.push(c);
                palette.len() - 1
            });
            if i > 255 {
                return Err("the frames hold more than 256 colours, more than a GIF's palette".into());
            }
            out.push(i as u8);
        }
        indexed.push(out);
    }
    let flat: Vec<u8> = palette.iter().flatten().copied().collect();
    let mut bytes = Vec::new();
    {
        let too_big = |_| format!("a {w}x{h} video is too large for a GIF (at most 65535 pixels a side)");
        let mut enc = gif::Encoder::new(&mut bytes, u16::try_from(w).map_err(too_big)?, u16::try_from(h).map_err(too_big)?, &flat).map_err(|e| e.to_string())?;
        enc.set_repeat(gif::Repeat::Infinite).map_err(|e| e.to_string())?;
        let last = indexed.len() - 1;
        for k in 0..indexed.len() {
            // After the first, a frame holds only the rectangle that changed, drawn over the
            // previous one: an episode moves one agent per panel, so this is most of a
            // video's size.
            let (left, top, fw, fh) = if k == 0 { (0, 0, w, h) } else { changed(&indexed[k - 1], &indexed[k], w) };
            let buffer: Vec<u8> = (top..top + fh).flat_map(|y| indexed[k][y * w + left..y * w + left + fw].iter().copied()).collect();
            let frame = gif::Frame {
                left: left as u16,
                top: top as u16,
                width: fw as u16,
                height: fh as u16,
                buffer: buffer.into(),
                delay: if k == last { LAST_DELAY } else { FRAME_DELAY },
                dispose: gif::DisposalMethod::Keep,
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).map_err(|e| e.to_string())?;
        }
    }
    Ok(bytes)
}

/// The rectangle `(left, top, width, height)` of `next` that differs from `previous` (frames
/// `w` pixels wide); one pixel where none does.
fn changed(previous: &[u8], next: &[u8], w: usize) -> (usize, usize, usize, usize) {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, (a, b)) in previous.iter().zip(next).enumerate() {
        if a != b {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x0 == usize::MAX {
        (0, 0, 1, 1)
    } else {
        (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }
}

/// A video's frames as RGB pixels, row-major, `width × height` each.
pub struct Frames {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// One RGB buffer per frame.
    pub rgb: Vec<Vec<u8>>,
}

/// The frames [`gif()`] encodes.
pub fn episode_frames(clips: &[EpisodeClip], columns: usize) -> Result<Frames, String> {
    if clips.is_empty() || columns == 0 {
        return Err("a video needs at least one episode and one column".into());
    }
    let tile = TILE_PX as usize;
    let header = 2 * LINE_PX + 4;
    let gap = tile / 2;
    let (pw, ph) = clips.iter().fold((0, 0), |(w, h), c| (w.max(c.level.width as usize * tile), h.max(c.level.height as usize * tile + header)));
    let rows = clips.len().div_ceil(columns);
    let cols = columns.min(clips.len());
    let (width, height) = (cols * pw + (cols - 1) * gap, rows * ph + (rows - 1) * gap);
    let steps = clips.iter().map(|c| c.actions.len()).max().unwrap_or(0);
    // Each clip's states, trajectories and returns, step by step.
    let played: Vec<Vec<(State, Vec<Cell>, f64)>> = clips
        .iter()
        .map(|c| {
            let mut s = reset(c.level);
            let mut traj = vec![s.agent];
            let mut ret = 0.0;
            let mut out = vec![(s, traj.clone(), ret)];
            for &a in c.actions {
                if s.done() {
                    break;
                }
                ret = crate::solve::add_reward(ret, step(c.level, &mut s, a).reward as f64);
                traj.push(s.agent);
                out.push((s, traj.clone(), ret));
            }
            out
        })
        .collect();
    let mut rgb = Vec::with_capacity(steps + 1);
    for k in 0..=steps {
        let mut frame = vec![255u8; width * height * 3];
        for (i, (clip, states)) in clips.iter().zip(&played).enumerate() {
            let (x0, y0) = ((i % columns) * (pw + gap), (i / columns) * (ph + gap));
            let (state, traj, ret) = &states[k.min(states.len() - 1)];
            text(&mut frame, width, x0, y0 + 2, &clip.title);
            text(&mut frame, width, x0, y0 + 2 + LINE_PX, &format!("T={} R={ret:.2}", state.t));
            let pic = pixmap_with(clip.level, state, traj, false, true)?;
            for (py, row) in pic.pixels().chunks_exact(pic.width() as usize).enumerate() {
                for (px, p) in row.iter().enumerate() {
                    let c = p.demultiply();
                    let at = ((y0 + header + py) * width + x0 + px) * 3;
                    frame[at..at + 3].copy_from_slice(&[c.red(), c.green(), c.blue()]);
                }
            }
        }
        rgb.push(frame);
    }
    Ok(Frames { width, height, rgb })
}

/// The 3×5 glyph of `c` (rows top first, three bits each, the high bit left); unknown
/// characters are blank.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [6, 1, 2, 4, 7],
        '3' => [6, 1, 2, 1, 6],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 6, 1, 6],
        '6' => [3, 4, 7, 5, 7],
        '7' => [7, 1, 2, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 6],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '=' => [0, 7, 0, 7, 0],
        ':' => [0, 2, 0, 2, 0],
        _ => [0; 5],
    }
}

/// Writes `s` in black at pixel `(x, y)` of an RGB frame `width` pixels wide, clipped to it.
fn text(frame: &mut [u8], width: usize, x: usize, y: usize, s: &str) {
    let height = frame.len() / 3 / width;
    for (k, c) in s.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..FONT_PX {
                        for dx in 0..FONT_PX {
                            let (px, py) = (x + (k * 4 + col) * FONT_PX + dx, y + row * FONT_PX + dy);
                            if px < width && py < height {
                                frame[(py * width + px) * 3..(py * width + px) * 3 + 3].copy_from_slice(&[0, 0, 0]);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::reset;
    use crate::grid::tests::parse;

    #[test]
    fn pictures_show_the_level() {
        let level = parse(&["#####", "#A.C#", "#####"], 10);
        let s = reset(&level);
        assert_eq!(ascii(&level, &s), "#####\n#@.C#\n#####\n");
        let traj = [level.cell(1, 1), level.cell(2, 1), level.cell(3, 1)];
        let svg = svg(&level, &s, &traj);
        assert!(svg.starts_with("<svg") && svg.contains("<polyline points=\"1.5,1.5 2.5,1.5 3.5,1.5\""));
        let png = png(&level, &s, &traj).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let (h, w, rgb) = rgb(&level, &s, &[]).unwrap();
        assert_eq!((h, w, rgb.len()), (3 * TILE_PX as usize, 5 * TILE_PX as usize, h * w * 3));
        let px = |x: usize, y: usize| &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
        assert_eq!(px(2, 2), [WALL.0, WALL.1, WALL.2], "the top-left tile is wall");
        let centre = |tx: usize| px(tx * TILE_PX as usize + TILE_PX as usize / 2, TILE_PX as usize + TILE_PX as usize / 2);
        assert_eq!(centre(1), [AGENT.0, AGENT.1, AGENT.2], "the agent's tile shows the agent");
    }

    #[test]
    fn a_gif_decodes_to_one_frame_per_step_the_first_showing_the_first_state() {
        let level = parse(&["#####", "#A.C#", "#####"], 10);
        let other = parse(&["#####", "#.AC#", "#####"], 10);
        let actions = [Action::Right, Action::Right];
        let clips = [EpisodeClip { title: "agent".into(), level: &level, actions: &actions }, EpisodeClip { title: "planner".into(), level: &other, actions: &actions[..1] }];
        let bytes = gif(&clips, 2).unwrap();
        let frames = episode_frames(&clips, 2).unwrap();
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = opts.read_info(&bytes[..]).unwrap();
        // Each frame is drawn over the one before (frames after the first hold what changed).
        let mut decoded: Vec<Vec<u8>> = Vec::new();
        while let Some(f) = decoder.read_next_frame().unwrap() {
            let mut canvas = decoded.last().cloned().unwrap_or_else(|| vec![0; frames.width * frames.height * 3]);
            for (j, p) in f.buffer.chunks_exact(4).enumerate() {
                let (x, y) = (f.left as usize + j % f.width as usize, f.top as usize + j / f.width as usize);
                canvas[(y * frames.width + x) * 3..(y * frames.width + x) * 3 + 3].copy_from_slice(&p[..3]);
            }
            decoded.push(canvas);
        }
        assert_eq!(decoded.len(), actions.len() + 1, "a frame per step and one for the start");
        assert_eq!(decoded, frames.rgb, "the palette is exact: every frame decodes to its pixels");
        // The first frame's first panel is the renderer's picture of the start state.
        let first = pixmap_with(&level, &reset(&level), &[level.start], false, true).unwrap();
        let header = 2 * LINE_PX + 4;
        for (y, row) in first.pixels().chunks_exact(first.width() as usize).enumerate() {
            for (x, p) in row.iter().enumerate() {
                let c = p.demultiply();
                let at = ((header + y) * frames.width + x) * 3;
                assert_eq!(&decoded[0][at..at + 3], &[c.red(), c.green(), c.blue()], "pixel ({x}, {y})");
            }
        }
        assert!(gif(&[], 1).is_err());
    }
}
