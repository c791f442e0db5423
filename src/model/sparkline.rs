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
            format!("{},{}", Tenths::of(x), Tenths::of(y))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A non-negative number rounded to one decimal and written as `12.3`,
/// with integer formatting only: `{:.1}` on a float would bring the
/// float-printing code (~15 KB) into the WASM bundle for the sparkline
/// alone.
pub struct Tenths(u64);

impl Tenths {
    /// `value` (negative and NaN count as 0) to the nearest tenth.
    pub fn of(value: f64) -> Self {
        // The float-to-int cast saturates, and turns NaN into 0.
        Self((value * 10.0 + 0.5) as u64)
    }
}

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::{sparkline_points, Tenths};

    #[test]
    fn tenths_round_to_one_decimal_like_float_formatting() {
        for (value, written) in [
            (0.0, "0.0"),
            (48.0, "48.0"),
            (12.34, "12.3"),
            (12.36, "12.4"),
            (239.99, "240.0"),
            (-3.0, "0.0"),
            (f64::NAN, "0.0"),
        ] {
            assert_eq!(Tenths::of(value).to_string(), written, "{value}");
        }
    }

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
