//! The three meter painters: input/output levels, gain reduction over time with the speech probability, and
//! the 22 band gains. They paint from values already in dB; nothing here reads shared state.

use super::app::{HISTORY_FRAMES, METER_FALL_DB_PER_S, METER_FLOOR_DB};
use super::theme::*;
use super::widgets::*;
use egui::{self, vec2, Align2, Color32, CornerRadius, FontId, Pos2, Rect, Shape, Stroke};
use quell_dsp::bands::{BAND_EDGES_HZ, NB_BANDS};
use std::collections::VecDeque;

/// Level meter state on the GUI side: a falling bar and a peak hold, dBFS.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    pub(super) bar_db: f32,
    pub(super) hold_db: f32,
    pub(super) hold_age: f32,
}

impl Level {
    pub(super) fn new() -> Self {
        Level {
            bar_db: METER_FLOOR_DB,
            hold_db: METER_FLOOR_DB,
            hold_age: 0.0,
        }
    }

    pub(super) fn update(&mut self, peak: f32, dt: f32) {
        let db = gain_to_db(peak).max(METER_FLOOR_DB);
        self.bar_db = db.max(self.bar_db - METER_FALL_DB_PER_S * dt);
        self.hold_age += dt;
        if db >= self.hold_db || self.hold_age > 1.5 {
            self.hold_db = db;
            self.hold_age = 0.0;
        }
    }
}

pub(super) fn db_to_y(db: f32, top: f32, bottom: f32, floor_db: f32) -> f32 {
    let t = (db.clamp(floor_db, 0.0) - floor_db) / -floor_db;
    bottom - t * (bottom - top)
}

/// Marks on the level meters' scale, dBFS.
pub(super) const LEVEL_MARKS_DB: [f32; 5] = [0.0, -6.0, -18.0, -36.0, -60.0];

pub(super) fn draw_levels(painter: &egui::Painter, rect: Rect, input: &Level, output: &Level) {
    let inner = frame_box(painter, rect, "LEVEL");
    let inner = Rect::from_min_max(inner.min, inner.max - vec2(0.0, 14.0));
    // Two bars with the dB scale between them.
    let scale_w = 22.0;
    let w = (inner.width() - scale_w) / 2.0;
    for (i, (level, label)) in [(input, "IN"), (output, "OUT")].iter().enumerate() {
        let x0 = inner.left() + i as f32 * (w + scale_w);
        let bar = Rect::from_min_max(pos(x0, inner.top()), pos(x0 + w, inner.bottom()));
        painter.rect_filled(bar, CornerRadius::same(3), BG);
        let y = db_to_y(level.bar_db, bar.top(), bar.bottom(), METER_FLOOR_DB);
        let color = if level.bar_db > -1.0 { WARN } else { ACCENT };
        painter.rect_filled(
            Rect::from_min_max(pos(bar.left(), y), bar.max),
            CornerRadius::same(3),
            color,
        );
        let hy = db_to_y(level.hold_db, bar.top(), bar.bottom(), METER_FLOOR_DB);
        painter.line_segment(
            [pos(bar.left(), hy), pos(bar.right(), hy)],
            Stroke::new(1.5, TEXT),
        );
        painter.text(
            pos(bar.center().x, bar.bottom() + 3.0),
            Align2::CENTER_TOP,
            *label,
            FontId::proportional(10.0),
            MUTED,
        );
        for db in LEVEL_MARKS_DB {
            let y = db_to_y(db, bar.top(), bar.bottom(), METER_FLOOR_DB);
            painter.line_segment(
                [pos(bar.left(), y), pos(bar.right(), y)],
                Stroke::new(1.0, Color32::from_black_alpha(90)),
            );
        }
    }
    let scale_x = inner.left() + w + scale_w / 2.0;
    for db in LEVEL_MARKS_DB {
        let y = db_to_y(db, inner.top(), inner.bottom(), METER_FLOOR_DB);
        painter.text(
            pos(scale_x, y),
            Align2::CENTER_CENTER,
            format!("{}", db.abs() as i32),
            FontId::proportional(9.0),
            MUTED,
        );
    }
}

pub(super) fn draw_history(
    painter: &egui::Painter,
    rect: Rect,
    reduction: &VecDeque<f32>,
    vad: &VecDeque<f32>,
    gate_threshold: Option<f32>,
) {
    let inner = frame_box(painter, rect, "GAIN REDUCTION  ·  SPEECH PROBABILITY");
    let range_db = 40.0;
    for db in [0.0f32, 10.0, 20.0, 30.0, 40.0] {
        let y = inner.top() + db / range_db * inner.height();
        painter.line_segment(
            [pos(inner.left(), y), pos(inner.right(), y)],
            Stroke::new(1.0, PANEL_EDGE),
        );
        painter.text(
            pos(inner.right() - 2.0, y + 1.0),
            Align2::RIGHT_TOP,
            format!("-{db:.0} dB"),
            FontId::proportional(9.0),
            MUTED,
        );
    }
    let step = inner.width() / (HISTORY_FRAMES - 1) as f32;
    let x_of = |i: usize, len: usize| inner.right() - (len - 1 - i) as f32 * step;
    if reduction.len() >= 2 {
        let len = reduction.len();
        let mut mesh = egui::Mesh::default();
        for (i, r) in reduction.iter().enumerate() {
            let x = x_of(i, len);
            let y = inner.top() + (r.clamp(0.0, range_db) / range_db) * inner.height();
            let base = mesh.vertices.len() as u32;
            mesh.colored_vertex(pos(x, inner.top()), ACCENT_DIM);
            mesh.colored_vertex(pos(x, y), ACCENT.gamma_multiply(0.8));
            if i > 0 {
                mesh.add_triangle(base - 2, base - 1, base);
                mesh.add_triangle(base - 1, base, base + 1);
            }
        }
        painter.add(Shape::mesh(mesh));
    }
    if vad.len() >= 2 {
        let len = vad.len();
        let points: Vec<Pos2> = vad
            .iter()
            .enumerate()
            .map(|(i, v)| {
                pos(
                    x_of(i, len),
                    inner.bottom() - v.clamp(0.0, 1.0) * inner.height(),
                )
            })
            .collect();
        painter.add(Shape::line(points, Stroke::new(1.5, SPEECH)));
    }
    if let Some(t) = gate_threshold {
        let y = inner.bottom() - t.clamp(0.0, 1.0) * inner.height();
        painter.add(Shape::dashed_line(
            &[pos(inner.left(), y), pos(inner.right(), y)],
            Stroke::new(1.0, SPEECH.gamma_multiply(0.6)),
            6.0,
            4.0,
        ));
    }
    painter.text(
        pos(inner.left() + 2.0, inner.bottom() - 2.0),
        Align2::LEFT_BOTTOM,
        "speech",
        FontId::proportional(10.0),
        SPEECH,
    );
}

pub(super) fn draw_bands(painter: &egui::Painter, rect: Rect, bands_db: &[f32; NB_BANDS]) {
    let inner = frame_box(painter, rect, "BAND GAINS");
    let inner = Rect::from_min_max(inner.min, inner.max - vec2(0.0, 14.0));
    let floor = -40.0;
    let gap = 3.0;
    let w = (inner.width() - gap * (NB_BANDS - 1) as f32) / NB_BANDS as f32;
    for (i, db) in bands_db.iter().enumerate() {
        let x0 = inner.left() + i as f32 * (w + gap);
        let col = Rect::from_min_max(pos(x0, inner.top()), pos(x0 + w, inner.bottom()));
        painter.rect_filled(col, CornerRadius::same(2), BG);
        // Bars hang from the top: their length is the attenuation of the band.
        let y = inner.top() + (db.clamp(floor, 0.0) / floor) * inner.height();
        if y > inner.top() + 0.5 {
            painter.rect_filled(
                Rect::from_min_max(col.min, pos(col.right(), y)),
                CornerRadius::same(2),
                ACCENT.gamma_multiply(0.85),
            );
        }
        let hz = BAND_EDGES_HZ[i];
        if [200.0, 1000.0, 2000.0, 4000.0, 8000.0, 15600.0].contains(&hz) {
            let label = if hz >= 1000.0 {
                format!("{:.0}k", hz / 1000.0)
            } else {
                format!("{hz:.0}")
            };
            painter.text(
                pos(col.center().x, inner.bottom() + 2.0),
                Align2::CENTER_TOP,
                label,
                FontId::proportional(9.0),
                MUTED,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_meters_fall_at_the_set_rate_and_hold_peaks() {
        let mut l = Level::new();
        l.update(1.0, 0.01);
        assert_eq!(l.bar_db, 0.0);
        l.update(0.0, 0.5);
        assert!((l.bar_db + METER_FALL_DB_PER_S * 0.5).abs() < 1e-4);
        assert_eq!(l.hold_db, 0.0);
    }

    #[test]
    fn db_axis_maps_the_floor_to_the_bottom() {
        assert_eq!(db_to_y(0.0, 10.0, 110.0, -60.0), 10.0);
        assert_eq!(db_to_y(-60.0, 10.0, 110.0, -60.0), 110.0);
        assert_eq!(db_to_y(-100.0, 10.0, 110.0, -60.0), 110.0);
    }
}
