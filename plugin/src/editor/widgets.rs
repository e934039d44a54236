//! Small widgets and drawing helpers shared by the layout and the painters.

use super::theme::*;
use egui::{
    self, vec2, Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Stroke,
    StrokeKind, Ui,
};

pub(super) fn pos(x: f32, y: f32) -> Pos2 {
    Pos2::new(x, y)
}

pub(super) fn gain_to_db(g: f32) -> f32 {
    if g > 0.0 && g.is_finite() {
        20.0 * g.log10()
    } else {
        f32::NEG_INFINITY
    }
}

pub(super) fn pill(ui: &mut Ui, text: &str, color: Color32) {
    egui::Frame::new()
        .fill(PANEL)
        .stroke(Stroke::new(1.0, PANEL_EDGE))
        .corner_radius(10.0)
        .inner_margin(egui::Margin::symmetric(10, 3))
        .show(ui, |ui| {
            ui.label(RichText::new(text).size(12.0).color(color));
        });
}

pub(super) fn card(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    egui::Frame::new()
        .fill(PANEL)
        .stroke(Stroke::new(1.0, PANEL_EDGE))
        .corner_radius(8.0)
        .inner_margin(12.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            add(ui);
        });
}

pub(super) fn caption(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).size(11.0).strong().color(MUTED));
}

pub(super) fn labelled(ui: &mut Ui, label: &str, add: impl FnOnce(&mut Ui)) {
    ui.horizontal(|ui| {
        ui.add_sized(
            vec2(70.0, 20.0),
            egui::Label::new(RichText::new(label).color(MUTED)),
        );
        add(ui);
    });
}

/// An on/off switch. Returns its response (clicked = toggle).
pub(super) fn toggle(ui: &mut Ui, on: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(40.0, 20.0), Sense::click());
    let t = ui.ctx().animate_bool(response.id, on);
    let painter = ui.painter();
    let fill = lerp_color(PANEL_EDGE, ACCENT_DIM, t);
    painter.rect_filled(rect, CornerRadius::same(10), fill);
    let x = rect.left() + 10.0 + t * (rect.width() - 20.0);
    painter.circle_filled(pos(x, rect.center().y), 7.0, lerp_color(MUTED, ACCENT, t));
    response
}

pub(super) fn lerp_color(a: Color32, b: Color32, t: f32) -> Color32 {
    let l = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    Color32::from_rgb(l(a.r(), b.r()), l(a.g(), b.g()), l(a.b(), b.b()))
}

pub(super) fn frame_box(painter: &egui::Painter, rect: Rect, title: &str) -> Rect {
    painter.rect_filled(rect, CornerRadius::same(8), PANEL);
    painter.rect_stroke(
        rect,
        CornerRadius::same(8),
        Stroke::new(1.0, PANEL_EDGE),
        StrokeKind::Inside,
    );
    painter.text(
        rect.min + vec2(10.0, 8.0),
        Align2::LEFT_TOP,
        title,
        FontId::proportional(11.0),
        MUTED,
    );
    Rect::from_min_max(rect.min + vec2(10.0, 26.0), rect.max - vec2(10.0, 10.0))
}
