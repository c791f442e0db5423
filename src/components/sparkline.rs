//! An inline SVG sparkline of the recent numbers.

use crate::model::{sparkline_points, Tenths};
use leptos::prelude::*;

const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 48.0;

/// Draws `values` (oldest first), scaled to their own range (or from zero).
#[component]
pub fn Sparkline(
    /// The values, oldest first.
    #[prop(into)]
    values: Signal<Vec<u32>>,
    /// What the line shows, for screen readers.
    #[prop(into, default = "Trend of the recent numbers".into())]
    label: Signal<String>,
    /// Draw zero at the bottom rather than the smallest value (for rates,
    /// where a flat line at any level must not look like a swing).
    #[prop(optional)]
    from_zero: bool,
) -> impl IntoView {
    let points = move || {
        values.with(|values| {
            let lo = if from_zero {
                0
            } else {
                values.iter().copied().min().unwrap_or(0)
            };
            let hi = values.iter().copied().max().unwrap_or(1);
            sparkline_points(values, WIDTH, HEIGHT, lo, hi)
        })
    };
    view! {
        <svg
            class="sparkline"
            data-testid="sparkline"
            viewBox=format!("-2 -2 {} {}", Tenths::of(WIDTH + 4.0), Tenths::of(HEIGHT + 4.0))
            preserveAspectRatio="none"
            role="img"
            aria-label=label
        >
            <polyline points=points fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke"/>
        </svg>
    }
}
