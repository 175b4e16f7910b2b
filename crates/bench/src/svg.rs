//! A hand-written SVG line plot on log-log axes: fan-out latency against subscribers for
//! `docs/performance.md`. No plotting dependency; the output is plain, diffable text.

use std::fmt::Write as _;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// One line of the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// A CSS colour.
    pub color: String,
    pub dashed: bool,
    /// `(x, y)`, both > 0 (log axes); others are left out.
    pub points: Vec<(f64, f64)>,
}

/// A log axis from the decade below `min` to the decade above `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogAxis {
    pub lo_exp: i32,
    pub hi_exp: i32,
}

impl LogAxis {
    /// The axis spanning every value (all > 0); one decade, 1 to 10, when there are none.
    pub fn spanning(values: impl IntoIterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for value in values.into_iter().filter(|v| *v > 0.0 && v.is_finite()) {
            lo = lo.min(value);
            hi = hi.max(value);
        }
        if !lo.is_finite() {
            return LogAxis {
                lo_exp: 0,
                hi_exp: 1,
            };
        }
        let lo_exp = lo.log10().floor() as i32;
        let hi_exp = (hi.log10().ceil() as i32).max(lo_exp + 1);
        LogAxis { lo_exp, hi_exp }
    }

    /// Where `value` falls, 0.0 at the low end to 1.0 at the high end.
    pub fn fraction(&self, value: f64) -> f64 {
        (value.log10() - f64::from(self.lo_exp)) / f64::from(self.hi_exp - self.lo_exp)
    }

    fn decades(&self) -> impl Iterator<Item = f64> {
        (self.lo_exp..=self.hi_exp).map(|e| 10f64.powi(e))
    }
}

/// The plot as a standalone SVG document. `x_ticks` are labelled on the x axis (e.g. the
/// subscriber counts measured).
pub fn line_plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_ticks: &[f64],
    series: &[Series],
) -> String {
    let valid = |(x, y): &(f64, f64)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite();
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| valid(p)))
    };
    let x_axis = LogAxis::spanning(points().map(|p| p.0).chain(x_ticks.iter().copied()));
    let y_axis = LogAxis::spanning(points().map(|p| p.1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |x: f64| LEFT + x_axis.fraction(x) * plot_w;
    let py = |y: f64| TOP + (1.0 - y_axis.fraction(y)) * plot_h;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(title)
    );
    // Grid and y ticks: one line per decade.
    for y in y_axis.decades() {
        let at = py(y);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            at + 4.0,
            number(y)
        );
    }
    for &x in x_ticks.iter().filter(|x| **x > 0.0) {
        let at = px(x);
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{:.1}" stroke="#ddd"/><text x="{at:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            number(x)
        );
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    if points().next().is_none() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no data</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for (index, line) in series.iter().enumerate() {
        let coords: Vec<String> = line
            .points
            .iter()
            .filter(|p| valid(p))
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let dash = if line.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let color = escape(&line.color);
        if !coords.is_empty() {
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
                coords.join(" ")
            );
            for coord in &coords {
                let (x, y) = coord.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
        }
        let legend_y = TOP + 10.0 + index as f64 * 20.0;
        let legend_x = LEFT + plot_w + 14.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 24.0,
            legend_x + 30.0,
            legend_y + 4.0,
            escape(&line.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A tick label: `0.1`, `1`, `1000`, `5000`.
fn number(value: f64) -> String {
    if value >= 1.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.6}");
        text.trim_end_matches('0').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn log_axes_span_whole_decades() {
        let axis = LogAxis::spanning([3.0, 250.0]);
        assert_eq!(
            axis,
            LogAxis {
                lo_exp: 0,
                hi_exp: 3
            }
        );
        assert_eq!(axis.fraction(1.0), 0.0);
        assert_eq!(axis.fraction(1000.0), 1.0);
        assert!((axis.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            LogAxis::spanning([100.0]),
            LogAxis {
                lo_exp: 2,
                hi_exp: 3
            }
        );
        assert_eq!(
            LogAxis::spanning([-1.0, f64::NAN]),
            LogAxis {
                lo_exp: 0,
                hi_exp: 1
            }
        );
    }

    #[test]
    fn draws_each_series_with_its_points_and_legend() {
        let series = vec![
            Series {
                label: "max rate p99".into(),
                color: "#c00".into(),
                dashed: false,
                points: vec![(100.0, 5.0), (1000.0, 50.0), (5000.0, 0.0)],
            },
            Series {
                label: "steady <50/s> p50".into(),
                color: "#06c".into(),
                dashed: true,
                points: vec![(100.0, 1.0)],
            },
        ];
        let svg = line_plot(
            "t & u",
            "subscribers",
            "ms",
            &[100.0, 1000.0, 5000.0],
            &series,
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The zero-latency point cannot sit on a log axis and is left out.
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("stroke-dasharray").count(), 2);
        assert!(svg.contains("t &amp; u"));
        assert!(svg.contains("steady &lt;50/s&gt; p50"));
        assert!(svg.contains(">5000</text>"));
        // x from 100 (left edge) to 10,000; y from 1 (bottom) to 100.
        assert!(svg.contains(r#"points="70.0,"#));
        assert!(svg.contains(&format!(
            "<circle cx=\"{LEFT:.1}\" cy=\"{:.1}\"",
            HEIGHT - BOTTOM
        )));
    }

    #[test]
    fn says_so_when_there_is_nothing_to_draw() {
        let svg = line_plot("t", "x", "y", &[], &[]);
        assert!(svg.contains(">no data</text>"));
        assert!(!svg.contains("<polyline"));
    }
}
