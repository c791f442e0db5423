//! An inline SVG sparkline of the recent numbers.

use crate::model::sparkline_points;
use leptos::prelude::*;

const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 48.0;

/// Draws `values` (oldest first), scaled to their own range.
#[component]
pub fn Sparkline(#[prop(into)] values: Signal<Vec<u32>>) -> impl IntoView {
    let points = move || {
        values.with(|values| {
            let lo = values.iter().copied().min().unwrap_or(0);
            let hi = values.iter().copied().max().unwrap_or(1);
            sparkline_points(values, WIDTH, HEIGHT, lo, hi)
        })
    };
    view! {
        <svg
            class="sparkline"
            data-testid="sparkline"
            viewBox=format!("-2 -2 {} {}", WIDTH + 4.0, HEIGHT + 4.0)
            preserveAspectRatio="none"
            role="img"
            aria-label="Trend of the recent numbers"
        >
            <polyline points=points fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke"/>
        </svg>
    }
}
