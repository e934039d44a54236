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
//!
//! One file per part, as nih-plug's diopser does it: this module holds the window and its handle (opening at
//! the saved size, saving it when the host resizes); [`app`] the editor's state, polling of the meters and the
//! layout; [`widgets`] the small controls; [`painters`] the three meter painters (levels, reduction history,
//! band gains); [`theme`] the palette.

mod app;
mod painters;
mod theme;
mod widgets;

use crate::meters::SharedMeters;
use crate::params::{EditorSize, QuellParams};
use app::QuellApp;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::editor::{
    Editor, EditorHandle, HostMethods, ParentWindowHandle, ResizeHint, SizeConstraints,
    SpawnedEditor,
};
use nice_plug_egui::{
    create_egui_editor, EguiEditorHandle, EguiEditorState, EguiNiceSettings, RepaintNotifier,
};
use std::error::Error;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
