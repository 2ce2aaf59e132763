//! SVG charts with error bars, drawn with `plotters`, for the HTML pages of every layer above
//! (audit, deploy, lab reports). Every value is an [`Estimate`], so every bar and point shows
//! its 95% interval.

use plotters::prelude::*;

use crate::stats::Estimate;

/// Colours of series, in order.
pub const PALETTE: [RGBColor; 6] = [RGBColor(52, 101, 164), RGBColor(204, 102, 0), RGBColor(78, 154, 6), RGBColor(164, 0, 0), RGBColor(117, 80, 123), RGBColor(85, 87, 83)];

/// Chart width and height in pixels.
const SIZE: (u32, u32) = (640, 320);

fn finite_range(values: impl Iterator<Item = f64>, floor: Option<f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if let Some(f) = floor {
        lo = lo.min(f);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - if floor == Some(lo) { 0.0 } else { pad }, hi + pad)
}

/// A bar chart: one bar per `(label, estimate, series)` (series picks the colour), with the
/// interval as an error bar. The y axis starts at 0 unless a value is negative.
pub fn bars(title: &str, y_label: &str, items: &[(String, Estimate, usize)]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let _ = draw_bars(&root, title, y_label, items);
        let _ = root.present();
    }
    svg
}

fn draw_bars(root: &DrawingArea<SVGBackend, plotters::coord::Shift>, title: &str, y_label: &str, items: &[(String, Estimate, usize)]) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let (lo, hi) = finite_range(items.iter().flat_map(|(_, e, _)| [e.lo, e.hi, e.mean]), Some(0.0));
    let n = items.len().max(1);
    // A segmented range over 0..n−1 has exactly n slots, one per bar.
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(if n > 4 { 90 } else { 30 })
        .y_label_area_size(55)
        .build_cartesian_2d((0..n as i32 - 1).into_segmented(), lo..hi)?;
    let labels: Vec<String> = items.iter().map(|(l, _, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_style(("sans-serif", 12).into_font().transform(if n > 4 { FontTransform::Rotate90 } else { FontTransform::None }))
        .draw()?;
    for (i, (_, e, series)) in items.iter().enumerate() {
        let colour = PALETTE[series % PALETTE.len()];
        let (i, base) = (i as i32, 0f64.max(lo));
        let mut bar = Rectangle::new([(SegmentValue::Exact(i), base), (SegmentValue::Exact(i + 1), e.mean)], colour.mix(0.75).filled());
        bar.set_margin(0, 0, 6, 6);
        chart.draw_series(std::iter::once(bar))?;
        if e.lo.is_finite() && e.hi.is_finite() {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(SegmentValue::CenterOf(i), e.lo, e.mean, e.hi, BLACK.stroke_width(2), 12)))?;
        }
    }
    Ok(())
}

/// How a line chart's x axis maps values.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    /// Linear in x.
    Linear,
    /// Logarithmic in x (points at x ≤ 0 sit at half the smallest positive x).
    Log,
    /// x is the index into these labels (a swept condition whose values are names, or
    /// numbers with `inf` among them).
    Categories(Vec<String>),
}

/// One line of a line chart: estimates with error bars, and optionally the raw values behind
/// them (one per seed), drawn as hollow dots beside the mean so that a run that failed to learn
/// is seen rather than averaged away.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// `(x, estimate)` points joined by the line.
    pub points: Vec<(f64, Estimate)>,
    /// `(x, value)` of each unit behind the estimates (e.g. each seed).
    pub raw: Vec<(f64, f64)>,
}

impl Series {
    /// A series of estimates without raw values.
    pub fn new(name: impl Into<String>, points: Vec<(f64, Estimate)>) -> Series {
        Series { name: name.into(), points, raw: Vec::new() }
    }
}

/// A line chart of one or more series, with error bars (and each raw value as a dot).
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series], axis: &XAxis) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let _ = draw_lines(&root, title, x_label, y_label, series, axis);
        let _ = root.present();
    }
    svg
}

fn draw_lines(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    axis: &XAxis,
) -> Result<(), Box<dyn std::error::Error>> {
    let log_x = *axis == XAxis::Log;
    root.fill(&WHITE)?;
    // A log axis cannot show 0: such points sit at half the smallest positive x.
    let xs: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|(x, _)| *x).chain(s.raw.iter().map(|(x, _)| *x))).collect();
    let min_pos = xs.iter().copied().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    let place = |x: f64| if log_x && x <= 0.0 { (min_pos / 2.0).ln() } else if log_x { x.ln() } else { x };
    let (x0, x1) = match axis {
        XAxis::Categories(labels) => (-0.3, labels.len().max(1) as f64 - 0.7),
        _ => finite_range(xs.iter().map(|&x| place(x)), None),
    };
    let (y0, y1) = finite_range(series.iter().flat_map(|s| s.points.iter().flat_map(|(_, e)| [e.lo, e.hi, e.mean]).chain(s.raw.iter().map(|(_, y)| *y))), None);
    let mut chart = ChartBuilder::on(root).caption(title, ("sans-serif", 18)).margin(10).x_label_area_size(35).y_label_area_size(55).build_cartesian_2d(x0..x1, y0..y1)?;
    let fmt = move |v: &f64| match axis {
        XAxis::Log => format!("{:.3}", v.exp()).trim_end_matches('0').trim_end_matches('.').to_string(),
        XAxis::Linear => format!("{v}"),
        // Only whole positions carry a label.
        XAxis::Categories(labels) if (v - v.round()).abs() < 1e-6 && *v >= -1e-6 => labels.get(v.round() as usize).cloned().unwrap_or_default(),
        XAxis::Categories(_) => String::new(),
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_label).y_desc(y_label).x_label_formatter(&fmt);
    if let XAxis::Categories(labels) = axis {
        mesh.x_labels(4 * labels.len().max(1) + 1);
    }
    mesh.draw()?;
    // Raw values sit slightly right of their x (on a categorical axis the slot is one unit
    // wide), so they do not hide the mean's error bar.
    let nudge = match axis {
        XAxis::Categories(_) => 0.12,
        _ => 0.0,
    };
    for (k, s) in series.iter().enumerate() {
        let (name, points) = (&s.name, &s.points);
        let colour = PALETTE[k % PALETTE.len()];
        chart.draw_series(s.raw.iter().filter(|(_, y)| y.is_finite()).map(|&(x, y)| Circle::new((place(x) + nudge, y), 3, colour.stroke_width(1))))?;
        let pts: Vec<(f64, f64)> = points.iter().map(|(x, e)| (place(*x), e.mean)).collect();
        chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?.label(name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
        chart.draw_series(points.iter().filter(|(_, e)| e.lo.is_finite() && e.hi.is_finite()).map(|(x, e)| ErrorBar::new_vertical(place(*x), e.lo, e.mean, e.hi, colour.stroke_width(1), 8)))?;
    }
    if series.len() > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_one_error_bar_per_interval() {
        let e = |m: f64| Estimate { mean: m, lo: m - 0.1, hi: m + 0.1, n: 10 };
        let svg = bars("t", "y", &[("a".into(), e(0.5), 0), ("b".into(), e(0.8), 1)]);
        assert!(svg.starts_with("<svg") && svg.contains("\na\n") && svg.contains("\nb\n"), "{svg}");
        let svg = lines("t", "x", "y", &[Series::new("s", vec![(0.0, e(0.2)), (1.0, e(0.4)), (8.0, e(0.6))])], &XAxis::Log);
        assert!(svg.contains("<polyline") || svg.contains("<path"), "{svg}");
    }

    #[test]
    fn every_raw_value_is_drawn_beside_the_mean() {
        let e = Estimate { mean: 0.6, lo: 0.2, hi: 1.0, n: 3 };
        let plain = Series::new("s", vec![(0.0, e)]);
        let with_seeds = Series { raw: vec![(0.0, 0.95), (0.0, 0.9), (0.0, 0.05)], ..plain.clone() };
        let axis = XAxis::Categories(vec!["a".into()]);
        let circles = |s: &Series| lines("t", "x", "y", std::slice::from_ref(s), &axis).matches("<circle").count();
        assert_eq!(circles(&with_seeds), circles(&plain) + 3);
    }
}
