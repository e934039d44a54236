//! The editor: egui through nice-plug-egui.
//!
//! Layout: a header with the product name and the running state (mask source, latency in ms, CPU share); on
//! the left the controls, the reduction first and largest, then mode, voice gate and mix; on the right the
//! meters: input and output level, gain reduction over the last five seconds with the speech probability on
//! top, and the gain of each of the 22 bands.
//!
//! The editor reads meter data from [`SharedMeters`] only (atomics and a lock-free ring) and does every
//! conversion to dB and pixels itself. While its window exists it sets [`SharedMeters::editor_open`], the only
//! time the audio thread produces meter data.
//!
//! [`QuellEditor`] wraps nice-plug-egui's editor so that the window opens at the size saved with the project
//! ([`QuellParams::editor_size`]), which is only known after the host has loaded the state.

use crate::meters::{MeterFrame, SharedMeters};
use crate::params::{Mode, QuellParams};
use crate::state::EditorSize;
use egui::{
    self, vec2, Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke,
    StrokeKind, Ui,
};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::editor::{
    Editor, EditorHandle, HostMethods, ParentWindowHandle, ResizeHint, SizeConstraints,
    SpawnedEditor,
};
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditorHandle, EguiEditorState, EguiNiceSettings, NiceEguiApp,
    RepaintNotifier,
};
use quell_dsp::bands::{BAND_EDGES_HZ, NB_BANDS};
use std::collections::VecDeque;
use std::error::Error;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames of gain-reduction history shown (10 ms each: five seconds).
const HISTORY_FRAMES: usize = 500;
/// Lowest level the meters show, dBFS.
const METER_FLOOR_DB: f32 = -60.0;
/// Fall rate of the level meters, dB per second.
const METER_FALL_DB_PER_S: f32 = 24.0;

// Palette.
const BG: Color32 = Color32::from_rgb(0x14, 0x17, 0x1c);
const PANEL: Color32 = Color32::from_rgb(0x1d, 0x22, 0x29);
const PANEL_EDGE: Color32 = Color32::from_rgb(0x2a, 0x31, 0x3a);
const TEXT: Color32 = Color32::from_rgb(0xe6, 0xea, 0xef);
const MUTED: Color32 = Color32::from_rgb(0x8a, 0x94, 0xa3);
const ACCENT: Color32 = Color32::from_rgb(0x3c, 0xd6, 0xb0);
const ACCENT_DIM: Color32 = Color32::from_rgb(0x1f, 0x6f, 0x5d);
const WARN: Color32 = Color32::from_rgb(0xf0, 0xb4, 0x3c);
const SPEECH: Color32 = Color32::from_rgb(0x8f, 0xa8, 0xff);

/// The plugin's editor. Creating it is cheap; the window and its egui context are made in [`Editor::spawn`].
pub struct QuellEditor {
    params: Arc<QuellParams>,
    meters: Arc<SharedMeters>,
    /// State of the open window, if any (GUI thread only).
    current: Mutex<Option<Arc<EguiEditorState>>>,
}

impl QuellEditor {
    /// Creates the editor description. Allocates (main thread).
    pub fn new(params: Arc<QuellParams>, meters: Arc<SharedMeters>) -> Self {
        QuellEditor {
            params,
            meters,
            current: Mutex::new(None),
        }
    }

    fn saved_size(&self) -> EditorSize {
        self.params
            .editor_size
            .read()
            .map(|s| s.clamped())
            .unwrap_or_default()
    }
}

fn resize_hint() -> ResizeHint {
    ResizeHint {
        can_resize: true,
        can_resize_horizontally: true,
        can_resize_vertically: true,
        size_constraints: SizeConstraints::logical(
            Some(LogicalSize::new(
                EditorSize::MIN.width as f32,
                EditorSize::MIN.height as f32,
            )),
            Some(LogicalSize::new(
                EditorSize::MAX.width as f32,
                EditorSize::MAX.height as f32,
            )),
        ),
        ..ResizeHint::NON_RESIZABLE
    }
}

impl Editor for QuellEditor {
    type Handle = QuellEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<HostMethods>,
    ) -> Result<SpawnedEditor<Self::Handle>, Box<dyn Error>> {
        let size = self.saved_size();
        let state = EguiEditorState::from_size(
            LogicalSize::new(f64::from(size.width), f64::from(size.height)),
            1.0,
        );
        let settings = EguiNiceSettings::new()
            .with_tile("Quell")
            .with_resize_hint(resize_hint())
            .with_repaint_poll_interval(Duration::from_millis(16));
        let app = QuellApp::new(self.params.clone(), self.meters.clone());
        let inner = create_egui_editor(state.clone(), RepaintNotifier::new(), settings, app)
            .ok_or("the egui editor could not be created")?;
        let spawned = inner.spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        )?;
        self.meters.editor_open.store(true, Ordering::Release);
        if let Ok(mut current) = self.current.lock() {
            *current = Some(state.clone());
        }
        Ok(SpawnedEditor {
            handle: QuellEditorHandle {
                inner: spawned.handle,
                state,
                params: self.params.clone(),
                meters: self.meters.clone(),
            },
            window: spawned.window,
        })
    }

    fn size(&self) -> NativeSize<u32> {
        let open = self.current.lock().ok().and_then(|c| c.clone());
        match open {
            Some(state) => {
                let (l, p) = (state.logical_size(), state.physical_size());
                let scale = if l.width > 0.0 {
                    f64::from(p.width) / f64::from(l.width)
                } else {
                    1.0
                };
                NativeSize::from_size(state.size(), scale)
            }
            None => {
                let s = self.saved_size();
                NativeSize::from_size(
                    Size::Logical(LogicalSize::new(f64::from(s.width), f64::from(s.height))),
                    1.0,
                )
            }
        }
    }

    fn resize_hint(&self) -> ResizeHint {
        resize_hint()
    }
}

/// The open editor window. Dropping it (the host closed the window) stops meter production and saves the
/// window's size into the parameters, so that it is stored with the project.
pub struct QuellEditorHandle {
    inner: EguiEditorHandle,
    state: Arc<EguiEditorState>,
    params: Arc<QuellParams>,
    meters: Arc<SharedMeters>,
}

impl QuellEditorHandle {
    fn save_size(&self) {
        let l = self.state.logical_size();
        let size = EditorSize {
            width: l.width.round().max(0.0) as u32,
            height: l.height.round().max(0.0) as u32,
        }
        .clamped();
        if let Ok(mut saved) = self.params.editor_size.write() {
            *saved = size;
        }
    }
}

impl Drop for QuellEditorHandle {
    fn drop(&mut self) {
        self.save_size();
        self.meters.editor_open.store(false, Ordering::Release);
    }
}

impl EditorHandle for QuellEditorHandle {
    type Window = <EguiEditorHandle as EditorHandle>::Window;
    type Error = <EguiEditorHandle as EditorHandle>::Error;

    fn run_until_closed(window: Self::Window) -> Result<(), Self::Error> {
        EguiEditorHandle::run_until_closed(window)
    }
    fn set_parent(
        &self,
        parent: ParentWindowHandle,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        self.inner.set_parent(parent, window)
    }
    fn show(&self, window: &Self::Window) -> Result<(), Self::Error> {
        self.inner.show(window)
    }
    fn hide(&self, window: &Self::Window) -> Result<(), Self::Error> {
        self.inner.hide(window)
    }
    fn set_size(
        &self,
        new_size: NativeSize<u32>,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        let result = self.inner.set_size(new_size, window);
        self.save_size();
        result
    }
    fn host_main_thread_callback(&self, window: &Self::Window) {
        self.inner.host_main_thread_callback(window)
    }
    fn adjust_size(
        &self,
        new_size: NativeSize<u32>,
        window: &Self::Window,
    ) -> Option<NativeSize<u32>> {
        self.inner.adjust_size(new_size, window)
    }
    fn set_fallback_scale_factor(
        &self,
        scale_factor: f64,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        self.inner.set_fallback_scale_factor(scale_factor, window)
    }
    fn state_changed(&self) {
        self.inner.state_changed()
    }
    fn param_value_changed(&self, id: &str, normalized_value: f32) {
        self.inner.param_value_changed(id, normalized_value)
    }
    fn param_modulation_changed(&self, id: &str, modulation_offset: f32) {
        self.inner.param_modulation_changed(id, modulation_offset)
    }
}

/// Level meter state on the GUI side: a falling bar and a peak hold, dBFS.
#[derive(Debug, Clone, Copy)]
struct Level {
    bar_db: f32,
    hold_db: f32,
    hold_age: f32,
}

impl Level {
    fn new() -> Self {
        Level {
            bar_db: METER_FLOOR_DB,
            hold_db: METER_FLOOR_DB,
            hold_age: 0.0,
        }
    }

    fn update(&mut self, peak: f32, dt: f32) {
        let db = gain_to_db(peak).max(METER_FLOOR_DB);
        self.bar_db = db.max(self.bar_db - METER_FALL_DB_PER_S * dt);
        self.hold_age += dt;
        if db >= self.hold_db || self.hold_age > 1.5 {
            self.hold_db = db;
            self.hold_age = 0.0;
        }
    }
}

/// What the editor draws, kept between repaints (GUI thread only).
struct QuellApp {
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
    fn new(params: Arc<QuellParams>, meters: Arc<SharedMeters>) -> Self {
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
                if !m.engine_ok.load(Ordering::Relaxed) {
                    pill(ui, &format!("Pass-through: {rate:.0} Hz unsupported"), WARN);
                } else {
                    let running = match m.effective_mode.load(Ordering::Relaxed) {
                        1 => "Neural",
                        2 => "Off",
                        _ => "Classic",
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

fn pos(x: f32, y: f32) -> Pos2 {
    Pos2::new(x, y)
}

fn gain_to_db(g: f32) -> f32 {
    if g > 0.0 && g.is_finite() {
        20.0 * g.log10()
    } else {
        f32::NEG_INFINITY
    }
}

fn pill(ui: &mut Ui, text: &str, color: Color32) {
    egui::Frame::new()
        .fill(PANEL)
        .stroke(Stroke::new(1.0, PANEL_EDGE))
        .corner_radius(10.0)
        .inner_margin(egui::Margin::symmetric(10, 3))
        .show(ui, |ui| {
            ui.label(RichText::new(text).size(12.0).color(color));
        });
}

fn card(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
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

fn caption(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).size(11.0).strong().color(MUTED));
}

fn labelled(ui: &mut Ui, label: &str, add: impl FnOnce(&mut Ui)) {
    ui.horizontal(|ui| {
        ui.add_sized(
            vec2(70.0, 20.0),
            egui::Label::new(RichText::new(label).color(MUTED)),
        );
        add(ui);
    });
}

/// An on/off switch. Returns its response (clicked = toggle).
fn toggle(ui: &mut Ui, on: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(40.0, 20.0), Sense::click());
    let t = ui.ctx().animate_bool(response.id, on);
    let painter = ui.painter();
    let fill = lerp_color(PANEL_EDGE, ACCENT_DIM, t);
    painter.rect_filled(rect, CornerRadius::same(10), fill);
    let x = rect.left() + 10.0 + t * (rect.width() - 20.0);
    painter.circle_filled(pos(x, rect.center().y), 7.0, lerp_color(MUTED, ACCENT, t));
    response
}

fn lerp_color(a: Color32, b: Color32, t: f32) -> Color32 {
    let l = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    Color32::from_rgb(l(a.r(), b.r()), l(a.g(), b.g()), l(a.b(), b.b()))
}

fn frame_box(painter: &egui::Painter, rect: Rect, title: &str) -> Rect {
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

fn db_to_y(db: f32, top: f32, bottom: f32, floor_db: f32) -> f32 {
    let t = (db.clamp(floor_db, 0.0) - floor_db) / -floor_db;
    bottom - t * (bottom - top)
}

/// Marks on the level meters' scale, dBFS.
const LEVEL_MARKS_DB: [f32; 5] = [0.0, -6.0, -18.0, -36.0, -60.0];

fn draw_levels(painter: &egui::Painter, rect: Rect, input: &Level, output: &Level) {
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

fn draw_history(
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

fn draw_bands(painter: &egui::Painter, rect: Rect, bands_db: &[f32; NB_BANDS]) {
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
