//! Presentation helpers: dates, relative times, counts, and the server-rendered SVG charts.
//!
//! Charts are built from numbers and our own labels only, so their markup is safe to emit
//! unescaped; they use SVG presentation attributes, never `style`, to satisfy the CSP.

use std::fmt::Write;

use time::OffsetDateTime;

/// `2026-11-25 05:50:05 UTC`
pub fn datetime(ms: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::from("-"),
    }
}

/// `2026-11-25 05:50`, without seconds, for chart labels.
pub fn short_datetime(ms: i64) -> String {
    let full = datetime(ms);
    full.get(..16).unwrap_or(&full).to_owned()
}

/// `HH:MM:SS.mmm` for breadcrumbs.
pub fn time_of_day(ms: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:02}:{:02}:{:02}.{:03}",
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => String::from("-"),
    }
}

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`, `4 months ago` (or `in ...` for the future).
pub fn relative(ms: i64, now_ms: i64) -> String {
    let delta = now_ms - ms;
    let (future, secs) = if delta < 0 {
        (true, (-delta) / 1000)
    } else {
        (false, delta / 1000)
    };
    let text = if secs < 45 {
        return String::from(if future { "in a moment" } else { "just now" });
    } else if secs < 3600 {
        format!("{} min", (secs / 60).max(1))
    } else if secs < 86_400 {
        format!("{} h", secs / 3600)
    } else if secs < 86_400 * 60 {
        let days = secs / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if secs < 86_400 * 730 {
        format!("{} months", secs / (86_400 * 30))
    } else {
        format!("{} years", secs / (86_400 * 365))
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `987`, `12.3k`, `4.5M`: compact counts for lists.
pub fn count(n: i64) -> String {
    match n {
        ..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// A duration in minutes as words: `30 minutes`, `2 hours`, `7 days`.
pub fn minutes(m: i64) -> String {
    if m % 1440 == 0 {
        let d = m / 1440;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    } else if m % 60 == 0 {
        let h = m / 60;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

/// A time series: bucket start (epoch ms) and count, oldest first.
pub type Series = Vec<(i64, i64)>;

/// A compact bar sparkline (`width` x `height` px) of a series; empty buckets show a baseline.
pub fn sparkline(series: &Series, width: u32, height: u32) -> String {
    let mut svg = String::new();
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let n = series.len().max(1) as f64;
    let slot = f64::from(width) / n;
    let bar = (slot * 0.7).max(1.0);
    let total: i64 = series.iter().map(|(_, c)| c).sum();
    let _ = write!(
        svg,
        "<svg class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-label=\"{total} events in the period\">"
    );
    for (i, (_, c)) in series.iter().enumerate() {
        let x = i as f64 * slot;
        let h = if *c == 0 {
            1.0
        } else {
            (*c as f64 / max as f64 * f64::from(height - 1)).max(2.0)
        };
        let class = if *c == 0 { "spark-empty" } else { "spark-bar" };
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"/>",
            f64::from(height) - h
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A labelled bar chart of a series (issue detail): one bar per bucket with a tooltip, the max
/// on the axis, and the first and last bucket's dates below.
pub fn bar_chart(series: &Series, bucket_label: &dyn Fn(i64) -> String) -> String {
    let width = 600.0_f64;
    let height = 96.0_f64;
    let top = 14.0_f64;
    let bottom = 16.0_f64;
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let scale = max.max(1) as f64;
    let n = series.len().max(1) as f64;
    let slot = width / n;
    let bar = (slot * 0.72).max(1.0);
    let plot = height - top - bottom;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"none\" \
         role=\"img\" aria-label=\"events over time, at most {max} per bar\">"
    );
    let _ = write!(
        svg,
        "<text class=\"chart-label\" x=\"0\" y=\"10\">{max}</text>\
         <line class=\"chart-axis\" x1=\"0\" x2=\"{width}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        height - bottom,
        height - bottom
    );
    for (i, (start, c)) in series.iter().enumerate() {
        let x = i as f64 * slot;
        let h = if *c == 0 {
            0.0
        } else {
            (*c as f64 / scale * plot).max(2.0)
        };
        let _ = write!(
            svg,
            "<g><title>{}: {c} event{}</title><rect class=\"chart-hit\" x=\"{x:.1}\" y=\"{top}\" \
             width=\"{slot:.1}\" height=\"{plot:.1}\"/><rect class=\"chart-bar\" x=\"{x:.1}\" \
             y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"/></g>",
            bucket_label(*start),
            if *c == 1 { "" } else { "s" },
            height - bottom - h
        );
    }
    if let (Some((first, _)), Some((last, _))) = (series.first(), series.last()) {
        let _ = write!(
            svg,
            "<text class=\"chart-label\" x=\"0\" y=\"{}\">{}</text>\
             <text class=\"chart-label\" x=\"{width}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            height - 3.0,
            bucket_label(*first),
            height - 3.0,
            bucket_label(*last)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal percentage bar (tag value distribution).
pub fn percent_bar(percent: f64) -> String {
    let p = percent.clamp(0.0, 100.0);
    format!(
        "<svg class=\"pbar\" viewBox=\"0 0 100 6\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
         <rect class=\"pbar-bg\" x=\"0\" y=\"0\" width=\"100\" height=\"6\"/>\
         <rect class=\"pbar-fg\" x=\"0\" y=\"0\" width=\"{p:.1}\" height=\"6\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_counts() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time_of_day(1_234), "00:00:01.234");
        assert_eq!(relative(0, 10_000), "just now");
        assert_eq!(relative(0, 5 * 60_000), "5 min ago");
        assert_eq!(relative(0, 3 * 3_600_000), "3 h ago");
        assert_eq!(relative(0, 86_400_000), "1 day ago");
        assert_eq!(relative(10 * 60_000, 0), "in 10 min");
        assert_eq!(count(9_999), "9999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_500_000), "4.5M");
        assert_eq!(minutes(30), "30 minutes");
        assert_eq!(minutes(120), "2 hours");
        assert_eq!(minutes(10_080), "7 days");
    }

    #[test]
    fn charts_hold_only_numbers_and_our_labels() {
        let series = vec![(0, 0), (3_600_000, 5), (7_200_000, 1)];
        let svg = sparkline(&series, 80, 20);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(!svg.contains("style="));
        let chart = bar_chart(&series, &|ms| short_datetime(ms));
        assert!(chart.contains("1970-01-01 01:00: 5 events"));
        assert!(percent_bar(250.0).contains("width=\"100.0\""));
    }
}
