//! Pictures of levels: ASCII for the terminal, and SVG or PNG images with an agent's
//! trajectory drawn on them. Both image formats are drawn by one routine through the
//! [`Painter`] trait, so they always show the same thing.

use std::fmt::Write as _;

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

use crate::grid::{object_at, Cell, Level, ObjectKind, State, Tile};

/// The level as text: `#` wall, `.` floor, `~` lava, `@` agent, `C` cheese, `k` key, `c`
/// chest, `o` coin, `b` box. One line per row.
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
                }
            } else {
                match level.tile(cell) {
                    Tile::Wall => '#',
                    Tile::Lava => '~',
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
const AGENT: Rgb = (58, 123, 213);
const START: Rgb = (120, 200, 120);

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
        }
    }
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
    // An agent off the grid is not drawn: how a picture of the level alone is asked for.
    if (state.agent as usize) < level.tiles.len() {
        let (ax, ay) = level.xy(state.agent);
        p.circle(ax as f32 + 0.5, ay as f32 + 0.5, 0.3, AGENT);
    }
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

struct PngPainter(Pixmap);

fn paint_of((r, g, b): Rgb, opacity: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(Color::from_rgba8(r, g, b, (opacity * 255.0) as u8));
    paint.anti_alias = true;
    paint
}

impl Painter for PngPainter {
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Rgb) {
        if let Some(r) = Rect::from_xywh(x * TILE_PX, y * TILE_PX, w * TILE_PX, h * TILE_PX) {
            self.0.fill_rect(r, &paint_of(fill, 1.0), Transform::identity(), None);
        }
    }
    fn circle(&mut self, cx: f32, cy: f32, r: f32, fill: Rgb) {
        if let Some(path) = PathBuilder::from_circle(cx * TILE_PX, cy * TILE_PX, r * TILE_PX) {
            self.0.fill_path(&path, &paint_of(fill, 1.0), FillRule::Winding, Transform::identity(), None);
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
            self.0.stroke_path(&path, &paint_of(stroke, opacity), &s, Transform::identity(), None);
        }
    }
}

fn pixmap(level: &Level, state: &State, trajectory: &[Cell]) -> Result<Pixmap, String> {
    let pixmap = Pixmap::new((level.width as f32 * TILE_PX) as u32, (level.height as f32 * TILE_PX) as u32)
        .ok_or_else(|| format!("cannot make a {}x{} image", level.width, level.height))?;
    let mut p = PngPainter(pixmap);
    paint(&mut p, level, state, trajectory);
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
}
