//! QR codes of provisioning URIs, as `data:image/png;base64,…` URIs that a
//! frontend puts in an `<img src>` (the reference answers `""` without its
//! optional dependency).

use base64::Engine as _;
use qrcode::{Color, QrCode};

/// Pixels per module.
const SCALE: usize = 6;
/// White modules around the code (the standard's quiet zone).
const QUIET: usize = 4;

/// The PNG of `text`'s QR code as a data URI; `None` if it does not fit a QR code.
pub fn data_uri(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let mut png = Vec::new();
    let side32 = u32::try_from(side).ok()?;
    let mut encoder = png::Encoder::new(&mut png, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&png);
    Some(format!("data:image/png;base64,{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_data_uri_of_the_right_size() {
        let uri =
            data_uri("otpauth://totp/a%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
                .unwrap();
        let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % SCALE, 0);
        assert!(
            info.width as usize / SCALE >= 21 + 2 * QUIET,
            "version 1 at least"
        );
    }
}
