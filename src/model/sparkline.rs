//! The geometry of the sparkline: numbers to SVG polyline points.

/// Maps `values` (oldest first) onto a `width` × `height` box, `lo` at the
/// bottom and `hi` at the top, as an SVG `points` attribute. Fewer than two
/// values draw nothing.
pub fn sparkline_points(values: &[u32], width: f64, height: f64, lo: u32, hi: u32) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let span = f64::from(hi.saturating_sub(lo).max(1));
    let step = width / (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let clamped = f64::from((*value).clamp(lo, hi) - lo);
            let x = step * i as f64;
            let y = height - clamped / span * height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::sparkline_points;

    #[test]
    fn spans_the_box_from_left_to_right_and_bottom_to_top() {
        assert_eq!(
            sparkline_points(&[1, 1000, 500], 100.0, 50.0, 1, 1000),
            "0.0,50.0 50.0,0.0 100.0,25.0"
        );
    }

    #[test]
    fn needs_two_points_and_clamps_out_of_range_values() {
        assert_eq!(sparkline_points(&[5], 10.0, 10.0, 0, 10), "");
        assert_eq!(
            sparkline_points(&[20, 0], 10.0, 10.0, 0, 10),
            "0.0,0.0 10.0,10.0"
        );
    }
}
