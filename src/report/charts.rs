//! The report's pictures, drawn with plotters into SVG strings that are inlined in the
//! page. plotters escapes every text it writes; the labels here are tool vocabulary
//! (sources, classes, times), never evidence text.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// plotters' SVG backend writes `font-size = size / 1.24`; sizes below are in pixels.
const FONT_SCALE: f64 = 1.24;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x22, 0x2b, 0x36);
const MUTED: RGBColor = RGBColor(0x6b, 0x74, 0x80);
const GRID: RGBColor = RGBColor(0xe3, 0xe6, 0xea);
const ALERT: RGBColor = RGBColor(0xc6, 0x28, 0x28);

pub(crate) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

pub(crate) fn parse_hex(s: &str) -> RGBColor {
    let v = u32::from_str_radix(s.trim_start_matches('#'), 16).unwrap_or(0x777777);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Colours of the sources in docs/SCHEMA.md.
pub(crate) fn known_source_color(source: &str) -> Option<RGBColor> {
    Some(match source {
        "sms" => RGBColor(0x2b, 0x6c, 0xb0),
        "datausage" => RGBColor(0xdd, 0x6b, 0x20),
        "netusage" => RGBColor(0xd6, 0x9e, 0x2e),
        "manifest" => RGBColor(0x71, 0x80, 0x96),
        "crash" => RGBColor(0xc5, 0x30, 0x30),
        "shutdown" => RGBColor(0x80, 0x5a, 0xd5),
        "locationd" => RGBColor(0x2f, 0x85, 0x5a),
        "idstatus" => RGBColor(0xd5, 0x3f, 0x8c),
        "safari" => RGBColor(0x31, 0x97, 0x95),
        "tcc" => RGBColor(0x97, 0x5a, 0x16),
        "addaily" => RGBColor(0xb7, 0x79, 0x1f),
        "import" => RGBColor(0x4a, 0x55, 0x68),
        _ => return None,
    })
}

/// Colours for sources the schema does not list, taken in turn.
pub(crate) fn spare_color(k: usize) -> RGBColor {
    const SPARE: [RGBColor; 6] = [
        RGBColor(0x17, 0xbe, 0xcf),
        RGBColor(0xbc, 0xbd, 0x22),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x7f, 0x7f, 0x7f),
        RGBColor(0x1f, 0x77, 0xb4),
    ];
    SPARE[k % SPARE.len()]
}

/// Colours of chain lanes (follow-up classes).
pub(crate) fn class_color(class: &str) -> RGBColor {
    match class {
        "trigger" => ALERT,
        "sms" => RGBColor(0x2b, 0x6c, 0xb0),
        "net" => RGBColor(0xdd, 0x6b, 0x20),
        "file" => RGBColor(0x71, 0x80, 0x96),
        "process" => RGBColor(0x80, 0x5a, 0xd5),
        "location" => RGBColor(0x2f, 0x85, 0x5a),
        "crash" => RGBColor(0x9b, 0x2c, 0x2c),
        "ioc" => RGBColor(0x1a, 0x20, 0x2c),
        _ => RGBColor(0x4a, 0x55, 0x68),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, px * FONT_SCALE).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

fn bold(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, px * FONT_SCALE, FontStyle::Bold).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// Draws on a fresh SVG of the given size and returns its text.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
        area.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
        draw(&area).map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
        area.present()
            .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
    }
    Ok(out)
}

/// A linear map from data to pixels.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    fn px(&self, v: f64) -> i32 {
        let span = if self.d1 > self.d0 {
            self.d1 - self.d0
        } else {
            1.0
        };
        (self.p0 + (v - self.d0) / span * (self.p1 - self.p0)).round() as i32
    }
}

/// One chain to draw: lanes top to bottom, and the numbered events.
pub(crate) struct ChainPlot {
    pub lanes: Vec<String>,
    pub points: Vec<ChainPoint>,
    /// The rule's window after the trigger, when run.json names it.
    pub window_s: Option<f64>,
}

/// One event of a chain.
pub(crate) struct ChainPoint {
    pub lane: usize,
    /// Seconds from the trigger.
    pub offset: f64,
    /// Its number in the evidence table.
    pub number: usize,
    /// A few words (a process or file name); escaped by plotters.
    pub label: String,
}

/// Offset ticks: a round step giving at most `max` ticks.
fn offset_step(span: f64, max: f64) -> f64 {
    const STEPS: [f64; 16] = [
        1., 2., 5., 10., 15., 30., 60., 120., 300., 600., 900., 1800., 3600., 7200., 21600., 86400.,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= max)
        .unwrap_or(86400. * ((span / max / 86400.).ceil()))
}

pub(crate) fn offset_label(s: f64) -> String {
    let sign = if s < 0.0 {
        "-"
    } else if s > 0.0 {
        "+"
    } else {
        ""
    };
    let a = s.abs();
    let body = if a == 0.0 {
        "0".to_string()
    } else if a < 60.0 {
        format!("{} s", trim_float(a))
    } else if a < 3600.0 {
        let (m, r) = ((a / 60.0).floor(), a % 60.0);
        if r.round() == 0.0 {
            format!("{m} min")
        } else {
            format!("{m} min {} s", r.round())
        }
    } else if a < 86400.0 {
        let (h, r) = ((a / 3600.0).floor(), a % 3600.0);
        if (r / 60.0).round() == 0.0 {
            format!("{h} h")
        } else {
            format!("{h} h {} min", (r / 60.0).round())
        }
    } else if a < 365.0 * 86400.0 {
        format!("{} d", trim_float((a / 86400.0 * 10.0).round() / 10.0))
    } else {
        format!(
            "{} years",
            trim_float((a / (365.25 * 86400.0) * 10.0).round() / 10.0)
        )
    };
    format!("{sign}{body}")
}

fn trim_float(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

pub(crate) fn chain(plot: &ChainPlot) -> anyhow::Result<String> {
    const W: i32 = 1040;
    const LEFT: i32 = 150;
    const RIGHT: i32 = 30;
    const TOP: i32 = 26;
    const LANE: i32 = 36;
    const BOTTOM: i32 = 46;
    let lanes = plot.lanes.len().max(1) as i32;
    let h = TOP + lanes * LANE + BOTTOM;
    let lo_data = plot.points.iter().map(|p| p.offset).fold(0.0f64, f64::min);
    let hi_data = plot.points.iter().map(|p| p.offset).fold(10.0f64, f64::max);
    let pad = (hi_data - lo_data) * 0.06;
    let (lo, hi) = (lo_data - pad, hi_data + pad);
    let x = Scale {
        d0: lo,
        d1: hi,
        p0: LEFT as f64,
        p1: (W - RIGHT) as f64,
    };
    let lane_y = |l: usize| TOP + l as i32 * LANE + LANE / 2;
    svg((W as u32, h as u32), |a| {
        // Lanes.
        for (l, name) in plot.lanes.iter().enumerate() {
            let y0 = TOP + l as i32 * LANE;
            if l % 2 == 0 {
                a.draw(&Rectangle::new(
                    [(LEFT, y0), (W - RIGHT, y0 + LANE)],
                    RGBColor(0xf6, 0xf7, 0xf9).filled(),
                ))?;
            }
            let c = class_color(name);
            a.draw(&Circle::new((14, lane_y(l)), 5, c.filled()))?;
            a.draw(&Text::new(
                lane_label(name),
                (26, lane_y(l)),
                bold(13.0, INK, HPos::Left, VPos::Center),
            ))?;
        }
        let plot_bottom = TOP + lanes * LANE;
        // The rule's window.
        if let Some(w) = plot.window_s.filter(|w| *w > 0.0) {
            let x1 = x.px(w.min(hi));
            a.draw(&Rectangle::new(
                [(x.px(0.0), TOP), (x1, plot_bottom)],
                ALERT.mix(0.06).filled(),
            ))?;
            let label = if w <= hi {
                format!("rule window {}", offset_label(w).trim_start_matches('+'))
            } else {
                format!(
                    "rule window {} (continues →)",
                    offset_label(w).trim_start_matches('+')
                )
            };
            a.draw(&Text::new(
                label,
                (x1 - 4, TOP - 8),
                style(11.0, ALERT, HPos::Right, VPos::Center),
            ))?;
        }
        // Time axis.
        let step = offset_step(hi - lo, 8.0);
        let mut t = (lo / step).ceil() * step;
        while t <= hi {
            let px = x.px(t);
            a.draw(&PathElement::new(
                vec![(px, TOP), (px, plot_bottom)],
                GRID.stroke_width(1),
            ))?;
            a.draw(&Text::new(
                offset_label(t),
                (px, plot_bottom + 8),
                style(12.0, MUTED, HPos::Center, VPos::Top),
            ))?;
            t += step;
        }
        a.draw(&PathElement::new(
            vec![(LEFT, plot_bottom), (W - RIGHT, plot_bottom)],
            MUTED.stroke_width(1),
        ))?;
        a.draw(&Text::new(
            "time after the trigger".to_string(),
            ((LEFT + W - RIGHT) / 2, plot_bottom + 28),
            style(12.0, MUTED, HPos::Center, VPos::Top),
        ))?;
        let x0 = x.px(0.0);
        a.draw(&DashedPathElement::new(
            vec![(x0, TOP - 2), (x0, plot_bottom)],
            4,
            3,
            ALERT.stroke_width(1),
        ))?;
        // Events, each with its number and a few words; a label that would run into the
        // previous one in its lane moves to the other half of the lane.
        let mut order: Vec<&ChainPoint> = plot.points.iter().collect();
        order.sort_by(|p, q| {
            p.lane
                .cmp(&q.lane)
                .then(p.offset.total_cmp(&q.offset))
                .then(p.number.cmp(&q.number))
        });
        let mut ends: Vec<[i32; 2]> = vec![[i32::MIN; 2]; plot.lanes.len().max(1)];
        for p in order {
            let (px, py) = (x.px(p.offset), lane_y(p.lane));
            let c = class_color(plot.lanes.get(p.lane).map(String::as_str).unwrap_or(""));
            a.draw(&Circle::new((px, py), 7, c.filled()))?;
            a.draw(&Circle::new((px, py), 7, WHITE.stroke_width(1)))?;
            let text = format!("{} {}", p.number, p.label);
            // The SVG backend cannot measure text: estimate 6.6 px per character at 11 px.
            let width = (text.chars().count() as f64 * 6.6) as i32;
            let right_side = px + 12 + width < W - RIGHT;
            let (x0, x1) = if right_side {
                (px + 11, px + 11 + width)
            } else {
                (px - 11 - width, px - 11)
            };
            let lane_ends = ends.get_mut(p.lane).map(|e| *e).unwrap_or([i32::MIN; 2]);
            let row = if x0 > lane_ends[0] {
                0
            } else if x0 > lane_ends[1] {
                1
            } else {
                0
            };
            if let Some(e) = ends.get_mut(p.lane) {
                e[row] = x1 + 4;
            }
            let ly = if row == 0 { py - 8 } else { py + 9 };
            let anchor = if right_side { HPos::Left } else { HPos::Right };
            let tx = if right_side { x0 } else { x1 };
            a.draw(&Text::new(
                text,
                (tx, ly),
                bold(11.0, INK, anchor, VPos::Center),
            ))?;
        }
        Ok(())
    })
}

fn lane_label(class: &str) -> String {
    match class {
        "trigger" => "trigger".into(),
        "net" => "net · network use".into(),
        "file" => "file · file change".into(),
        "process" => "process".into(),
        "location" => "location".into(),
        "crash" => "crash".into(),
        "ioc" => "ioc · indicator".into(),
        "sms" => "sms · message".into(),
        "context" => "context".into(),
        other => other.chars().take(22).collect(),
    }
}

/// Rows per time bucket for one source.
pub(crate) struct SourceActivity {
    pub source: String,
    pub color: RGBColor,
    pub total: usize,
    /// (bucket start in seconds, rows).
    pub buckets: Vec<(i64, u64)>,
}

pub(crate) struct ActivityPlot {
    pub sources: Vec<SourceActivity>,
    pub from_s: i64,
    pub to_s: i64,
    pub bucket_s: i64,
    /// Finding starts: (seconds, label).
    pub marks: Vec<(i64, String)>,
}

pub(crate) const BUCKETS: [(i64, &str); 10] = [
    (60, "minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3600, "hour"),
    (6 * 3600, "6 hours"),
    (86400, "day"),
    (7 * 86400, "week"),
    (30 * 86400, "30 days"),
    (91 * 86400, "91 days"),
    (365 * 86400, "365 days"),
];

/// The smallest bucket that draws the span in at most `max` bars.
pub(crate) fn bucket_for(span_s: i64, max: i64) -> (i64, &'static str) {
    BUCKETS
        .iter()
        .copied()
        .find(|(b, _)| span_s / b <= max)
        .unwrap_or(BUCKETS[BUCKETS.len() - 1])
}

/// Time ticks aligned to round UTC instants.
pub(crate) fn time_ticks(from_s: i64, to_s: i64, max: i64) -> Vec<(i64, String)> {
    const STEPS: [i64; 13] = [
        60,
        300,
        900,
        1800,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86400,
        2 * 86400,
        7 * 86400,
        14 * 86400,
        28 * 86400,
    ];
    let span = (to_s - from_s).max(1);
    let mut out = Vec::new();
    if let Some(step) = STEPS.iter().copied().find(|s| span / s <= max) {
        let mut t = from_s.div_euclid(step) * step;
        if t < from_s {
            t += step;
        }
        let mut last_day = None;
        while t <= to_s {
            let Some(dt) = chrono::DateTime::from_timestamp(t, 0) else {
                break;
            };
            let day = dt.date_naive();
            let label = if step >= 86400 {
                dt.format("%Y-%m-%d").to_string()
            } else if last_day != Some(day) {
                dt.format("%m-%d %H:%M").to_string()
            } else {
                dt.format("%H:%M").to_string()
            };
            last_day = Some(day);
            out.push((t, label));
            t += step;
        }
        return out;
    }
    // Months: every 1, 3, 6 or 12 months from January.
    let months = span / (30 * 86400);
    let every = [1, 3, 6, 12, 24, 60]
        .into_iter()
        .find(|m| months / m <= max)
        .unwrap_or(120);
    let Some(start) = chrono::DateTime::from_timestamp(from_s, 0) else {
        return out;
    };
    use chrono::Datelike;
    let (mut y, mut m) = (start.year(), start.month0() as i32);
    m = (m / every as i32 + 1) * every as i32;
    loop {
        y += m / 12;
        m %= 12;
        let Some(d) = chrono::NaiveDate::from_ymd_opt(y, m as u32 + 1, 1) else {
            break;
        };
        let t = d
            .and_hms_opt(0, 0, 0)
            .map(|n| n.and_utc().timestamp())
            .unwrap_or(i64::MAX);
        if t > to_s {
            break;
        }
        let label = if every >= 12 {
            d.format("%Y").to_string()
        } else {
            d.format("%Y-%m").to_string()
        };
        out.push((t, label));
        m += every as i32;
    }
    out
}

pub(crate) fn activity(plot: &ActivityPlot) -> anyhow::Result<String> {
    const W: i32 = 1040;
    const LEFT: i32 = 170;
    const RIGHT: i32 = 20;
    const TOP: i32 = 24;
    const PANEL: i32 = 44;
    const GAP: i32 = 8;
    const BOTTOM: i32 = 34;
    let n = plot.sources.len().max(1) as i32;
    let h = TOP + n * (PANEL + GAP) + BOTTOM;
    let x = Scale {
        d0: plot.from_s as f64,
        d1: (plot.to_s + plot.bucket_s) as f64,
        p0: LEFT as f64,
        p1: (W - RIGHT) as f64,
    };
    svg((W as u32, h as u32), |a| {
        let bottom = TOP + n * (PANEL + GAP) - GAP;
        for (t, label) in time_ticks(plot.from_s, plot.to_s + plot.bucket_s, 9) {
            let px = x.px(t as f64);
            a.draw(&PathElement::new(
                vec![(px, TOP), (px, bottom)],
                GRID.stroke_width(1),
            ))?;
            a.draw(&Text::new(
                label,
                (px, bottom + 8),
                style(11.0, MUTED, HPos::Center, VPos::Top),
            ))?;
        }
        for (k, s) in plot.sources.iter().enumerate() {
            let y0 = TOP + k as i32 * (PANEL + GAP);
            let y1 = y0 + PANEL;
            a.draw(&Rectangle::new(
                [(LEFT, y0), (W - RIGHT, y1)],
                RGBColor(0xf6, 0xf7, 0xf9).filled(),
            ))?;
            a.draw(&Rectangle::new(
                [(8, y0 + 8), (18, y0 + 18)],
                s.color.filled(),
            ))?;
            a.draw(&Text::new(
                s.source.clone(),
                (26, y0 + 13),
                bold(13.0, INK, HPos::Left, VPos::Center),
            ))?;
            let peak = s.buckets.iter().map(|b| b.1).max().unwrap_or(0);
            a.draw(&Text::new(
                format!("{} rows · peak {}", group(s.total as u64), group(peak)),
                (26, y0 + 31),
                style(11.0, MUTED, HPos::Left, VPos::Center),
            ))?;
            for &(b, count) in &s.buckets {
                if count == 0 || peak == 0 {
                    continue;
                }
                let (bx0, bx1) = (x.px(b as f64), x.px((b + plot.bucket_s) as f64));
                // Square root keeps quiet periods visible next to a burst.
                let hgt = ((count as f64 / peak as f64).sqrt() * (PANEL - 4) as f64)
                    .round()
                    .max(1.0) as i32;
                a.draw(&Rectangle::new(
                    [(bx0, y1 - hgt), (bx1.max(bx0 + 1), y1)],
                    s.color.filled(),
                ))?;
            }
        }
        // Findings close together share one label.
        let mut marks: Vec<(i32, &str)> = plot
            .marks
            .iter()
            .map(|(t, l)| (x.px(*t as f64), l.as_str()))
            .collect();
        marks.sort();
        let mut groups: Vec<(i32, Vec<&str>)> = Vec::new();
        for (px, label) in marks {
            a.draw(&PathElement::new(
                vec![(px, TOP - 2), (px, bottom)],
                ALERT.stroke_width(2),
            ))?;
            match groups.last_mut() {
                Some((gx, labels)) if px - *gx < 40 => labels.push(label),
                _ => groups.push((px, vec![label])),
            }
        }
        for (px, labels) in groups {
            let text = match labels.as_slice() {
                [one] => one.to_string(),
                [first, rest @ ..] => format!("{first} +{}", rest.len()),
                [] => continue,
            };
            a.draw(&Text::new(
                text,
                (px, TOP - 6),
                bold(11.0, ALERT, HPos::Center, VPos::Bottom),
            ))?;
        }
        Ok(())
    })
}

/// Thousands separated by a thin space, as in the tables.
pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) struct HeatmapPlot {
    /// Days as days since the Unix epoch, top to bottom.
    pub days: Vec<i64>,
    /// (day, hour, rows).
    pub cells: Vec<(i64, u32, u64)>,
    /// (day, hour, label) of finding starts.
    pub marks: Vec<(i64, u32, String)>,
}

pub(crate) fn heatmap(plot: &HeatmapPlot) -> anyhow::Result<String> {
    const LEFT: i32 = 120;
    const TOP: i32 = 28;
    const CW: i32 = 32;
    const CH: i32 = 18;
    const LEGEND: i32 = 200;
    const BOTTOM: i32 = 16;
    let rows = plot.days.len().max(1) as i32;
    let w = LEFT + 24 * CW + LEGEND;
    let h = TOP + rows * CH + BOTTOM;
    let max = plot.cells.iter().map(|c| c.2).max().unwrap_or(0);
    let shade = |n: u64| -> RGBColor {
        if n == 0 || max == 0 {
            return RGBColor(0xf1, 0xf3, 0xf5);
        }
        let t = ((1 + n) as f64).ln() / ((1 + max) as f64).ln();
        let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
        RGBColor(lerp(0xd6, 0x08), lerp(0xe6, 0x30), lerp(0xf4, 0x6b))
    };
    let row_of = |d: i64| plot.days.iter().position(|x| *x == d);
    svg((w as u32, h as u32), |a| {
        for hr in 0..24 {
            let px = LEFT + hr * CW + CW / 2;
            a.draw(&Text::new(
                format!("{hr:02}"),
                (px, TOP - 8),
                style(11.0, MUTED, HPos::Center, VPos::Bottom),
            ))?;
        }
        for (r, d) in plot.days.iter().enumerate() {
            let y = TOP + r as i32 * CH;
            let label = chrono::DateTime::from_timestamp(d * 86400, 0)
                .map(|t| t.format("%Y-%m-%d %a").to_string())
                .unwrap_or_default();
            a.draw(&Text::new(
                label,
                (LEFT - 8, y + CH / 2),
                style(11.0, INK, HPos::Right, VPos::Center),
            ))?;
            for hr in 0..24 {
                let x0 = LEFT + hr * CW;
                a.draw(&Rectangle::new(
                    [(x0 + 1, y + 1), (x0 + CW - 1, y + CH - 1)],
                    shade(0).filled(),
                ))?;
            }
        }
        for &(d, hr, n) in &plot.cells {
            let Some(r) = row_of(d) else { continue };
            let (x0, y0) = (LEFT + hr as i32 * CW, TOP + r as i32 * CH);
            a.draw(&Rectangle::new(
                [(x0 + 1, y0 + 1), (x0 + CW - 1, y0 + CH - 1)],
                shade(n).filled(),
            ))?;
        }
        let mut cells: Vec<((i64, u32), Vec<&str>)> = Vec::new();
        for (d, hr, label) in &plot.marks {
            match cells.iter_mut().find(|c| c.0 == (*d, *hr)) {
                Some(c) => c.1.push(label),
                None => cells.push(((*d, *hr), vec![label])),
            }
        }
        for ((d, hr), labels) in cells {
            let Some(r) = row_of(d) else { continue };
            let (x0, y0) = (LEFT + hr as i32 * CW, TOP + r as i32 * CH);
            a.draw(&Rectangle::new(
                [(x0, y0), (x0 + CW, y0 + CH)],
                ALERT.stroke_width(2),
            ))?;
            // A cell fits one id; several findings in one hour show as a count.
            let text = if labels.len() == 1 {
                labels.concat()
            } else {
                format!("×{}", labels.len())
            };
            let ink = if shade_max_dark(&plot.cells, d, hr, max) {
                WHITE
            } else {
                ALERT
            };
            a.draw(&Text::new(
                text,
                (x0 + CW / 2, y0 + CH / 2),
                bold(10.0, ink, HPos::Center, VPos::Center),
            ))?;
        }
        // Legend.
        let lx = LEFT + 24 * CW + 24;
        a.draw(&Text::new(
            "rows per hour (UTC)".to_string(),
            (lx, TOP),
            bold(12.0, INK, HPos::Left, VPos::Center),
        ))?;
        let steps = [0u64, 1, max / 100, max / 10, max];
        let mut seen = Vec::new();
        for n in steps {
            if seen.contains(&n) || (n == 0 && !seen.is_empty()) {
                continue;
            }
            seen.push(n);
            let y = TOP + 14 + (seen.len() as i32 - 1) * 20;
            a.draw(&Rectangle::new(
                [(lx, y), (lx + 24, y + 14)],
                shade(n).filled(),
            ))?;
            a.draw(&Text::new(
                group(n),
                (lx + 32, y + 7),
                style(11.0, MUTED, HPos::Left, VPos::Center),
            ))?;
        }
        let y = TOP + 14 + seen.len() as i32 * 20 + 4;
        a.draw(&Rectangle::new(
            [(lx, y), (lx + 24, y + 14)],
            ALERT.stroke_width(2),
        ))?;
        a.draw(&Text::new(
            "a finding starts (×n: n findings)".to_string(),
            (lx + 32, y + 7),
            style(11.0, MUTED, HPos::Left, VPos::Center),
        ))?;
        Ok(())
    })
}

/// Whether a heatmap cell is dark enough to need white text.
fn shade_max_dark(cells: &[(i64, u32, u64)], day: i64, hour: u32, max: u64) -> bool {
    let n = cells
        .iter()
        .find(|c| c.0 == day && c.1 == hour)
        .map(|c| c.2)
        .unwrap_or(0);
    n > 0 && max > 0 && ((1 + n) as f64).ln() / ((1 + max) as f64).ln() > 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_durations() {
        assert_eq!(offset_label(0.0), "0");
        assert_eq!(offset_label(43.0), "+43 s");
        assert_eq!(offset_label(62.85), "+1 min 3 s");
        assert_eq!(offset_label(-20.0), "-20 s");
        assert_eq!(offset_label(7200.0), "+2 h");
        assert_eq!(offset_label(2.5), "+2.5 s");
        assert_eq!(offset_label(3.0 * 86400.0 + 3600.0 * 14.4), "+3.6 d");
        assert_eq!(offset_label(41.9 * 365.25 * 86400.0), "+41.9 years");
    }

    #[test]
    fn ticks_are_round_utc_instants() {
        // 2022-09-13 10:04:11 .. 12:30
        let t = time_ticks(1_663_063_451, 1_663_072_200, 6);
        let labels: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(labels, ["09-13 10:30", "11:00", "11:30", "12:00", "12:30"]);
        let y = time_ticks(1_563_090_798, 1_700_000_000, 8);
        assert!(y.iter().all(|(_, l)| l.len() == 4 || l.len() == 7), "{y:?}");
        assert!(!y.is_empty());
    }

    #[test]
    fn buckets_fit_the_span() {
        assert_eq!(bucket_for(3600, 300).0, 60);
        assert_eq!(bucket_for(30 * 86400, 300).0, 6 * 3600);
        assert_eq!(group(1234567), "1,234,567");
    }

    #[test]
    fn chain_svg_escapes_and_numbers() {
        let s = chain(&ChainPlot {
            lanes: vec!["trigger".into(), "net".into(), "<b>".into()],
            points: vec![
                ChainPoint {
                    lane: 0,
                    offset: 0.0,
                    number: 1,
                    label: "me".into(),
                },
                ChainPoint {
                    lane: 1,
                    offset: 43.0,
                    number: 2,
                    label: "IMTransferAgent".into(),
                },
                ChainPoint {
                    lane: 2,
                    offset: 63.0,
                    number: 3,
                    label: "</text><script>".into(),
                },
            ],
            window_s: Some(300.0),
        })
        .unwrap();
        assert!(s.starts_with("<svg"));
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
        assert!(s.contains("3 &lt;/text&gt;&lt;script&gt;") && !s.contains("<script"));
        assert!(s.contains("2 IMTransferAgent"));
        assert!(s.contains("+43 s") || s.contains("+40 s"));
    }
}
