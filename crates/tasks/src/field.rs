//! Policy vector fields (after Turner et al. 2023's maze work): a policy's action distribution
//! at every square of a level, drawn as one arrow per square, the net move `Σ_a p(a)·Δ(a)`
//! (a policy sure of "right" draws a long arrow right; one torn between left and right draws a
//! short one, and waiting shortens every arrow). Fields of two policies side by side, and their
//! difference, show at a glance where an agent and the exact planner part.

use std::collections::VecDeque;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::grid::{reset, Action, Cell, Level, State};
use crate::render::{paint_board, SvgPainter, TILE_PX};
use crate::solve::distance_map_into;

/// The squares a field covers, each with the state the policy is asked about there: the
/// level's start state with the agent moved onto the square (time 0, every object in place).
/// They are the floor tiles reachable from the start, in cell order, without the cheese's
/// tile (reaching it ends the episode).
pub fn field_states(level: &Level) -> Vec<(Cell, State)> {
    let start = reset(level);
    // Distances from the start over floor tiles: the reachable squares are the finite ones.
    let mut from_start = Vec::new();
    distance_map_into(level, level.start, &mut from_start, &mut VecDeque::new());
    let goal = level.goal_cell();
    let mut out = Vec::new();
    for c in (0..level.tiles.len() as Cell).filter(|&c| from_start[c as usize] != u32::MAX && Some(c) != goal) {
        let mut state = start;
        state.agent = c;
        out.push((c, state));
    }
    out
}

/// A policy's action probabilities at each square of a level (see [`field_states`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorField {
    /// The squares, in cell order.
    pub cells: Vec<Cell>,
    /// The action probabilities at each square, in [`Action::ALL`] order.
    pub probs: Vec<[f64; Action::COUNT]>,
}

impl VectorField {
    /// Each square's net move `(dx, dy)` in tiles (y grows downwards, as rows do).
    pub fn arrows(&self) -> Vec<(Cell, (f64, f64))> {
        self.cells
            .iter()
            .zip(&self.probs)
            .map(|(&c, p)| {
                let (mut dx, mut dy) = (0.0, 0.0);
                for (a, pa) in Action::ALL.iter().zip(p) {
                    let (x, y) = a.delta();
                    dx += pa * x as f64;
                    dy += pa * y as f64;
                }
                (c, (dx, dy))
            })
            .collect()
    }

    /// This field's arrows minus `other`'s, square by square (both must cover the same squares).
    pub fn difference(&self, other: &VectorField) -> Result<Vec<(Cell, (f64, f64))>, String> {
        if self.cells != other.cells {
            return Err("the two fields cover different squares: they are not of one level".into());
        }
        Ok(self.arrows().into_iter().zip(other.arrows()).map(|((c, (x, y)), (_, (u, v)))| (c, (x - u, y - v))).collect())
    }
}

/// The exact planner's field: at each square, equal probability on every move that steps along
/// a shortest path to the cheese (waiting where no path exists or the level has no cheese).
pub fn planner_field(level: &Level) -> VectorField {
    let states = field_states(level);
    let mut dist = Vec::new();
    if let Some(goal) = level.goal_cell() {
        distance_map_into(level, goal, &mut dist, &mut VecDeque::new());
    }
    let probs = states
        .iter()
        .map(|&(c, _)| {
            let here = dist.get(c as usize).copied().unwrap_or(u32::MAX);
            let on_path: Vec<usize> = Action::ALL[..4]
                .iter()
                .filter(|&&a| here != u32::MAX && level.neighbour(c, a).is_some_and(|n| dist[n as usize].wrapping_add(1) == here))
                .map(|a| a.index())
                .collect();
            let mut p = [0.0; Action::COUNT];
            if on_path.is_empty() {
                p[Action::Noop.index()] = 1.0;
            } else {
                for a in &on_path {
                    p[*a] = 1.0 / on_path.len() as f64;
                }
            }
            p
        })
        .collect();
    VectorField { cells: states.into_iter().map(|(c, _)| c).collect(), probs }
}

/// Tiles of arrow per unit of net move: a certain move reaches almost to the square's edge.
const ARROW_SCALE: f64 = 0.45;

/// An SVG of `level` once per panel, side by side, each with its title and its arrows (one
/// `<line class="arrow" data-cell="…">` per square, from the square's centre; a square whose
/// net move is shorter than a hundredth of a tile gets a dot instead).
pub fn field_svg(level: &Level, panels: &[(&str, Vec<(Cell, (f64, f64))>)]) -> String {
    let (w, h) = (level.width as f32, level.height as f32);
    let gap = 0.5;
    let title = 1.0;
    let total_w = panels.len() as f32 * (w + gap) - gap;
    let total_h = h + title;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {total_w} {total_h}\" width=\"{}\" height=\"{}\">\n<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"6\" refY=\"5\" markerWidth=\"4\" markerHeight=\"4\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"rgb(200,30,30)\"/></marker></defs>\n",
        total_w * TILE_PX,
        total_h * TILE_PX
    );
    let start = reset(level);
    for (i, (name, arrows)) in panels.iter().enumerate() {
        let x0 = i as f32 * (w + gap);
        let _ = writeln!(out, "<g transform=\"translate({x0},0)\"><text x=\"{}\" y=\"0.7\" font-size=\"0.6\" font-family=\"sans-serif\" text-anchor=\"middle\">{}</text>", w / 2.0, xml_escape(name));
        let mut p = SvgPainter(format!("<g transform=\"translate(0,{title})\">\n"));
        // The level without the agent (its start tile is still marked): the arrows are the agent.
        paint_board(&mut p, level, &start);
        out.push_str(&p.0);
        for &(c, (dx, dy)) in arrows {
            let (x, y) = level.xy(c);
            let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
            if dx.hypot(dy) < 0.01 {
                let _ = writeln!(out, "<circle class=\"arrow\" data-cell=\"{c}\" cx=\"{cx}\" cy=\"{cy}\" r=\"0.06\" fill=\"rgb(200,30,30)\"/>");
            } else {
                let (x2, y2) = (cx + ARROW_SCALE * dx, cy + ARROW_SCALE * dy);
                let _ = writeln!(
                    out,
                    "<line class=\"arrow\" data-cell=\"{c}\" x1=\"{cx}\" y1=\"{cy}\" x2=\"{x2:.4}\" y2=\"{y2:.4}\" stroke=\"rgb(200,30,30)\" stroke-width=\"0.07\" marker-end=\"url(#head)\"/>"
                );
            }
        }
        out.push_str("</g></g>\n");
    }
    out.push_str("</svg>\n");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{Diversity, FamilySpec, Shift, TrainingDistribution};
    use crate::maze::MazeParams;

    #[test]
    fn the_planners_field_points_along_a_shortest_path_everywhere_and_the_svg_draws_it() {
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 9, loops: 3, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
        for level in dist.held_out_levels(Shift::GoalAnywhere, 5, 1).unwrap() {
            let field = planner_field(&level);
            let mut d = Vec::new();
            distance_map_into(&level, level.goal_cell().unwrap(), &mut d, &mut VecDeque::new());
            assert!(!field.cells.is_empty() && !field.cells.contains(&level.goal_cell().unwrap()));
            for (c, p) in field.cells.iter().zip(&field.probs) {
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                for a in Action::ALL.iter().filter(|a| p[a.index()] > 0.0) {
                    let n = level.neighbour(*c, *a).unwrap();
                    assert_eq!(d[n as usize] + 1, d[*c as usize], "cell {c}: {a:?} is not a step along a shortest path");
                }
            }
            let arrows = field.arrows();
            let svg = field_svg(&level, &[("planner", arrows.clone())]);
            // Every square's drawn arrow is its net move, scaled.
            for line in svg.lines().filter(|l| l.starts_with("<line class=\"arrow\"")) {
                let attr = |k: &str| -> f64 { line.split(&format!(" {k}=\"")).nth(1).unwrap().split('"').next().unwrap().parse().unwrap() };
                let c = attr("data-cell") as Cell;
                let (_, (dx, dy)) = arrows.iter().find(|(cell, _)| *cell == c).unwrap();
                assert!((attr("x2") - attr("x1") - ARROW_SCALE * dx).abs() < 1e-3 && (attr("y2") - attr("y1") - ARROW_SCALE * dy).abs() < 1e-3, "{line}");
            }
            assert_eq!(svg.matches("class=\"arrow\"").count(), field.cells.len());
        }
    }

    #[test]
    fn a_difference_needs_fields_of_one_level() {
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams::default()), diversity: Diversity::Infinite, level_seed: 0 };
        let levels = dist.held_out_levels(Shift::None, 2, 1).unwrap();
        let a = planner_field(&levels[0]);
        assert!(a.difference(&a).unwrap().iter().all(|(_, (x, y))| *x == 0.0 && *y == 0.0));
        assert!(a.difference(&planner_field(&levels[1])).is_err() || levels[0].tiles == levels[1].tiles);
    }
}
