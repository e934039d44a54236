//! The editor's state: meter data polled from [`SharedMeters`] each frame and turned into dB, and the layout
//! (header, controls, meter panel).

use super::painters::{draw_bands, draw_history, draw_levels, Level};
use super::theme::*;
use super::widgets::*;
use crate::meters::{MeterFrame, SharedMeters};
use crate::params::{Listen, Mode, QuellParams};
use egui::{self, vec2, Color32, Rect, RichText, Sense, Stroke, Ui};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::NiceEguiApp;
use quell_dsp::bands::NB_BANDS;
use quell_dsp::MaskMode;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames of gain-reduction history shown (10 ms each: five seconds).
pub(super) const HISTORY_FRAMES: usize = 500;
/// Lowest level the meters show, dBFS.
pub(super) const METER_FLOOR_DB: f32 = -60.0;
/// Fall rate of the level meters, dB per second.
pub(super) const METER_FALL_DB_PER_S: f32 = 24.0;

/// What the editor draws, kept between repaints (GUI thread only).
pub(super) struct QuellApp {
    params: Arc<QuellParams>,
    meters: Arc<SharedMeters>,
    context: Option<GuiContext>,
    /// Gain reduction per frame, dB (≥ 0), newest last.
    reduction: VecDeque<f32>,
    /// Speech probability per frame, newest last.
    vad: VecDeque<f32>,
    /// Displayed band gains, dB (≤ 0).
    bands_db: [f32; NB_BANDS],
    input: Level,
    output: Level,
    last: Instant,
}

impl QuellApp {
    pub(super) fn new(params: Arc<QuellParams>, meters: Arc<SharedMeters>) -> Self {
        QuellApp {
            params,
            meters,
            context: None,
            reduction: VecDeque::with_capacity(HISTORY_FRAMES + 1),
            vad: VecDeque::with_capacity(HISTORY_FRAMES + 1),
            bands_db: [0.0; NB_BANDS],
            input: Level::new(),
            output: Level::new(),
            last: Instant::now(),
        }
    }

    /// Takes the meter data produced since the last repaint.
    fn poll(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f32().min(0.5);
        self.last = now;
        let mut latest: Option<MeterFrame> = None;
        let (reduction, vad) = (&mut self.reduction, &mut self.vad);
        self.meters.drain_frames(|f| {
            reduction.push_back(-10.0 * f.power_gain().max(1e-10).log10());
            vad.push_back(f.vad);
            latest = Some(f);
        });
        while self.reduction.len() > HISTORY_FRAMES {
            self.reduction.pop_front();
        }
        while self.vad.len() > HISTORY_FRAMES {
            self.vad.pop_front();
        }
        if let Some(f) = latest {
            for (shown, g) in self.bands_db.iter_mut().zip(&f.band_gains) {
                let db = gain_to_db(*g).max(METER_FLOOR_DB);
                // Fast attack towards more reduction, gentle return: easy to read.
                *shown = if db < *shown {
                    db
                } else {
                    (*shown + 60.0 * dt).min(db)
                };
            }
        }
        let (i, o) = self.meters.take_peaks();
        self.input.update(i, dt);
        self.output.update(o, dt);
    }
}

impl NiceEguiApp for QuellApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.context = Some(nice_gui_ctx);
        let mut visuals = egui::Visuals::dark();
        visuals.panel_fill = BG;
        visuals.window_fill = PANEL;
        visuals.override_text_color = Some(TEXT);
        visuals.selection.bg_fill = ACCENT_DIM;
        visuals.selection.stroke = Stroke::new(1.0, ACCENT);
        visuals.widgets.inactive.bg_fill = PANEL_EDGE;
        visuals.widgets.inactive.weak_bg_fill = PANEL_EDGE;
        visuals.widgets.hovered.weak_bg_fill = Color32::from_rgb(0x34, 0x3d, 0x48);
        visuals.widgets.active.weak_bg_fill = ACCENT_DIM;
        egui_ctx.set_visuals(visuals);
        egui_ctx.global_style_mut(|style| {
            style.spacing.item_spacing = vec2(8.0, 6.0);
            style.spacing.slider_width = 200.0;
        });
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut nice_plug_egui::Frame) {
        self.poll();
        let Some(context) = self.context.clone() else {
            return;
        };
        let setter = context.param_setter();
        egui::Frame::new()
            .fill(BG)
            .inner_margin(16.0)
            .show(ui, |ui| {
                ui.set_min_size(ui.available_size());
                self.header(ui);
                ui.add_space(10.0);
                let full = ui.available_rect_before_wrap();
                let left_w = 300.0f32.min(full.width() * 0.42);
                let left = Rect::from_min_size(full.min, vec2(left_w, full.height()));
                let right = Rect::from_min_max(pos(left.max.x + 12.0, full.min.y), full.max);
                ui.scope_builder(egui::UiBuilder::new().max_rect(left), |ui| {
                    self.controls(ui, &setter);
                });
                ui.scope_builder(egui::UiBuilder::new().max_rect(right), |ui| {
                    self.meter_panel(ui);
                });
                ui.allocate_rect(full, Sense::hover());
            });
        ui.ctx().request_repaint_after(Duration::from_millis(30));
    }

    fn editor_closed(&mut self) {
        self.context = None;
    }
}

impl QuellApp {
    fn header(&self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("QUELL").size(26.0).strong().color(ACCENT));
            ui.label(
                RichText::new("voice noise suppressor")
                    .size(14.0)
                    .color(MUTED),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let m = &self.meters;
                let rate = m.sample_rate.load(Ordering::Relaxed);
                let latency = m.latency_samples.load(Ordering::Relaxed);
                let cpu = m.cpu_share.load(Ordering::Relaxed) * 100.0;
                pill(ui, &format!("CPU {cpu:.1} %"), MUTED);
                let ms = if rate > 0.0 {
                    latency as f32 * 1000.0 / rate
                } else {
                    0.0
                };
                pill(ui, &format!("Latency {ms:.1} ms"), MUTED);
                if self.params.listen.value() == Listen::Removed {
                    pill(ui, "LISTENING TO REMOVED NOISE", WARN);
                }
                if !m.engine_ok.load(Ordering::Relaxed) {
                    pill(ui, &format!("Pass-through: {rate:.0} Hz unsupported"), WARN);
                } else {
                    let running =
                        match MaskMode::from_code(m.effective_mode.load(Ordering::Relaxed)) {
                            MaskMode::Neural => "Neural",
                            MaskMode::Unity => "Off",
                            MaskMode::Classic => "Classic",
                        };
                    let wants_neural = self.params.mode.value() == Mode::Neural;
                    let model = m.model_loaded.load(Ordering::Relaxed);
                    if wants_neural && !model {
                        pill(ui, "Neural unavailable: classic", WARN);
                    } else {
                        pill(ui, running, ACCENT);
                    }
                }
            });
        });
    }

    fn controls(&self, ui: &mut Ui, setter: &ParamSetter) {
        let p = &self.params;
        card(ui, |ui| {
            caption(ui, "REDUCTION");
            ui.label(
                RichText::new(format!("{:.1} dB", p.reduction.value()))
                    .size(40.0)
                    .strong()
                    .color(TEXT),
            );
            ui.label(
                RichText::new("The most the noise is turned down")
                    .size(12.0)
                    .color(MUTED),
            );
            ui.add_space(4.0);
            ui.add(
                ParamSlider::for_param(&p.reduction, setter)
                    .without_value()
                    .with_width(ui.available_width()),
            );
        });
        ui.add_space(8.0);
        card(ui, |ui| {
            caption(ui, "MODE");
            ui.horizontal(|ui| {
                for (mode, label) in [(Mode::Neural, "Neural"), (Mode::Classic, "Classic")] {
                    let selected = p.mode.value() == mode;
                    let text = RichText::new(label).size(15.0);
                    let button = egui::Button::selectable(selected, text)
                        .min_size(vec2((ui.available_width() - 8.0).max(60.0) / 2.0, 28.0));
                    if ui.add(button).clicked() && !selected {
                        setter.begin_set_parameter(&p.mode);
                        setter.set_parameter(&p.mode, mode);
                        setter.end_set_parameter(&p.mode);
                    }
                }
            });
        });
        ui.add_space(8.0);
        card(ui, |ui| {
            ui.horizontal(|ui| {
                caption(ui, "VOICE GATE");
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let on = p.gate.value();
                    if toggle(ui, on).clicked() {
                        setter.begin_set_parameter(&p.gate);
                        setter.set_parameter(&p.gate, !on);
                        setter.end_set_parameter(&p.gate);
                    }
                });
            });
            ui.add_enabled_ui(p.gate.value(), |ui| {
                labelled(ui, "Threshold", |ui| {
                    ui.add(ParamSlider::for_param(&p.gate_threshold, setter).with_width(130.0));
                });
                labelled(ui, "Hold", |ui| {
                    ui.add(ParamSlider::for_param(&p.gate_hold, setter).with_width(130.0));
                });
            });
        });
        ui.add_space(8.0);
        card(ui, |ui| {
            labelled(ui, "Mix", |ui| {
                ui.add(ParamSlider::for_param(&p.mix, setter).with_width(130.0));
            });
            labelled(ui, "Listen", |ui| {
                for (listen, label) in [(Listen::Voice, "Voice"), (Listen::Removed, "Removed")] {
                    let selected = p.listen.value() == listen;
                    let mut text = RichText::new(label).size(13.0);
                    if selected && listen == Listen::Removed {
                        text = text.color(WARN).strong();
                    }
                    if ui.add(egui::Button::selectable(selected, text)).clicked() && !selected {
                        setter.begin_set_parameter(&p.listen);
                        setter.set_parameter(&p.listen, listen);
                        setter.end_set_parameter(&p.listen);
                    }
                }
            });
            if p.listen.value() == Listen::Removed {
                ui.label(
                    RichText::new("You are hearing what Quell removes, not the voice").color(WARN),
                );
            }
            if p.bypass.value() {
                ui.label(RichText::new("Bypassed by the host").color(WARN));
            }
        });
    }

    fn meter_panel(&self, ui: &mut Ui) {
        let full = ui.available_rect_before_wrap();
        let meters_w = 92.0;
        let levels = Rect::from_min_size(full.min, vec2(meters_w, full.height()));
        let graphs = Rect::from_min_max(pos(levels.max.x + 10.0, full.min.y), full.max);
        let history = Rect::from_min_max(
            graphs.min,
            pos(graphs.max.x, graphs.min.y + graphs.height() * 0.55),
        );
        let bands = Rect::from_min_max(pos(graphs.min.x, history.max.y + 10.0), graphs.max);
        let painter = ui.painter_at(full);
        draw_levels(&painter, levels, &self.input, &self.output);
        draw_history(
            &painter,
            history,
            &self.reduction,
            &self.vad,
            self.params
                .gate
                .value()
                .then(|| self.params.gate_threshold.value()),
        );
        draw_bands(&painter, bands, &self.bands_db);
    }
}
