//! The editor's palette.

use egui::Color32;

// Palette.
pub(super) const BG: Color32 = Color32::from_rgb(0x14, 0x17, 0x1c);
pub(super) const PANEL: Color32 = Color32::from_rgb(0x1d, 0x22, 0x29);
pub(super) const PANEL_EDGE: Color32 = Color32::from_rgb(0x2a, 0x31, 0x3a);
pub(super) const TEXT: Color32 = Color32::from_rgb(0xe6, 0xea, 0xef);
pub(super) const MUTED: Color32 = Color32::from_rgb(0x8a, 0x94, 0xa3);
pub(super) const ACCENT: Color32 = Color32::from_rgb(0x3c, 0xd6, 0xb0);
pub(super) const ACCENT_DIM: Color32 = Color32::from_rgb(0x1f, 0x6f, 0x5d);
pub(super) const WARN: Color32 = Color32::from_rgb(0xf0, 0xb4, 0x3c);
pub(super) const SPEECH: Color32 = Color32::from_rgb(0x8f, 0xa8, 0xff);
