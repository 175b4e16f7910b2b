//! The figures of a run: each beside its anchor and the ratio, printed as they come and written
//! as the markdown table of `docs/performance.md`.

use std::fmt::Write as _;

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One number of a figure set against the same number of its anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub label: String,
    pub measured: f64,
    pub anchor: f64,
    pub better: Better,
}

impl Comparison {
    pub fn new(label: &str, measured: f64, anchor: f64, better: Better) -> Self {
        Comparison {
            label: label.to_string(),
            measured,
            anchor,
            better,
        }
    }

    /// `"p99 24.1× better"`, or `"p99 1.3× worse"` (the factor is always at least 1).
    pub fn describe(&self) -> String {
        let gain = match self.better {
            Better::Lower => self.anchor / self.measured,
            Better::Higher => self.measured / self.anchor,
        };
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!("{} ", self.label)
        };
        if !gain.is_finite() || gain <= 0.0 {
            format!("{label}not comparable")
        } else if gain >= 1.0 {
            format!("{label}{gain:.1}× better")
        } else {
            format!("{label}{:.1}× worse", 1.0 / gain)
        }
    }
}

/// What the figure's anchor is and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub text: String,
    pub source: String,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: String,
    /// The measured figure, or why it could not be measured.
    pub measured: Result<String, String>,
    pub anchor: Option<Anchor>,
    pub comparisons: Vec<Comparison>,
}

impl Row {
    /// A measured figure without an anchor.
    pub fn measured(figure: &str, text: String) -> Self {
        Row {
            figure: figure.to_string(),
            measured: Ok(text),
            anchor: None,
            comparisons: Vec::new(),
        }
    }

    /// A figure that could not be measured, and why.
    pub fn unmeasured(figure: &str, why: String) -> Self {
        Row {
            figure: figure.to_string(),
            measured: Err(why),
            anchor: None,
            comparisons: Vec::new(),
        }
    }

    pub fn with_anchor(mut self, text: &str, source: &str) -> Self {
        self.anchor = Some(Anchor {
            text: text.to_string(),
            source: source.to_string(),
        });
        self
    }

    pub fn compare(mut self, comparison: Comparison) -> Self {
        self.comparisons.push(comparison);
        self
    }

    /// The ratio column: every comparison, `;`-separated; `—` when there is none.
    pub fn ratio(&self) -> String {
        if self.measured.is_err() || self.comparisons.is_empty() {
            return "—".to_string();
        }
        self.comparisons
            .iter()
            .map(Comparison::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The row as plain text for the terminal.
    pub fn to_text(&self) -> String {
        let measured = match &self.measured {
            Ok(text) => text.clone(),
            Err(why) => format!("NOT MEASURED: {why}"),
        };
        let mut out = format!("{}\n    this run: {measured}\n", self.figure);
        if let Some(anchor) = &self.anchor {
            let _ = writeln!(out, "    anchor:   {} ({})", anchor.text, anchor.source);
        }
        if !self.comparisons.is_empty() && self.measured.is_ok() {
            let _ = writeln!(out, "    ratio:    {}", self.ratio());
        }
        out
    }
}

/// The markdown table of `rows` (with a trailing newline).
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from("| figure | this run | anchor | ratio |\n|---|---|---|---|\n");
    for row in rows {
        let measured = match &row.measured {
            Ok(text) => text.clone(),
            Err(why) => format!("not measured: {why}"),
        };
        let anchor = row.anchor.as_ref().map_or("—".to_string(), |anchor| {
            format!("{} ({})", anchor.text, anchor.source)
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&row.figure),
            cell(&measured),
            cell(&anchor),
            cell(&row.ratio())
        );
    }
    out
}

/// Text safe inside a table cell: pipes escaped, lines joined.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Where the generated table sits in a markdown file.
pub const TABLE_START: &str = "<!-- bench:table:start -->";
pub const TABLE_END: &str = "<!-- bench:table:end -->";

/// `doc` with everything between the `start` and `end` marker lines replaced by `content`
/// (the markers stay); `None` when the markers are missing or out of order.
pub fn splice_between(doc: &str, start: &str, end: &str, content: &str) -> Option<String> {
    let open = doc.find(start)? + start.len();
    let close = open + doc[open..].find(end)?;
    Some(format!("{}\n{}{}", &doc[..open], content, &doc[close..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn ratios_say_which_way_is_better() {
        assert_eq!(
            Comparison::new("p99", 50.0, 1400.0, Better::Lower).describe(),
            "p99 28.0× better"
        );
        assert_eq!(
            Comparison::new("events/s", 38.5, 77.0, Better::Higher).describe(),
            "events/s 2.0× worse"
        );
        assert_eq!(
            Comparison::new("x", 0.0, 0.0, Better::Lower).describe(),
            "x not comparable"
        );
    }

    #[test]
    fn the_table_has_one_line_per_figure() {
        let rows = vec![
            Row::measured("cold first token", "430 ms".into())
                .with_anchor("425 ms", "raw CLI, same run")
                .compare(Comparison::new("", 430.0, 425.0, Better::Lower)),
            Row::unmeasured("fan-out | 5,000", "too few file descriptors".into())
                .with_anchor("—", "none"),
        ];
        assert_eq!(
            markdown_table(&rows),
            "| figure | this run | anchor | ratio |\n\
             |---|---|---|---|\n\
             | cold first token | 430 ms | 425 ms (raw CLI, same run) | 1.0× worse |\n\
             | fan-out \\| 5,000 | not measured: too few file descriptors | — (none) | — |\n"
        );
    }

    #[test]
    fn splices_between_markers_only() {
        let doc = format!("# Perf\n\ntext\n{TABLE_START}\nold\n{TABLE_END}\nmore\n");
        assert_eq!(
            splice_between(&doc, TABLE_START, TABLE_END, "new\n").as_deref(),
            Some(format!("# Perf\n\ntext\n{TABLE_START}\nnew\n{TABLE_END}\nmore\n").as_str())
        );
        assert_eq!(
            splice_between("no markers", TABLE_START, TABLE_END, "x"),
            None
        );
        assert_eq!(
            splice_between(
                &format!("{TABLE_END}{TABLE_START}"),
                TABLE_START,
                TABLE_END,
                "x"
            ),
            None
        );
    }
}
