//! QR codes in image attachments and in the JPEG images of PDF attachments: "scan this code to
//! keep your mailbox" hides the phishing link from every link scanner, so the codes are decoded
//! and their URLs join the message's links. Bounded: images larger than [`MAX_PIXELS`] are not
//! decoded, big ones are scaled down first, at most [`MAX_IMAGES`] images per message and
//! [`MAX_CODES`] codes per image are read; a broken image yields nothing.

use image::{DynamicImage, ImageReader, Limits, imageops::FilterType};

/// Pixels an image may have to be decoded at all (a 16 MP photo is the largest).
pub const MAX_PIXELS: u64 = 16_000_000;
/// Images decoded per message.
pub const MAX_IMAGES: usize = 4;
/// Codes read per image.
pub const MAX_CODES: usize = 4;
/// Longest side an image is scaled down to before the search (codes in mail are large).
const SEARCH_SIDE: u32 = 1200;

/// Whether the bytes start like an image Moat decodes (PNG, JPEG, GIF).
pub fn is_image(data: &[u8]) -> bool {
    data.starts_with(b"\x89PNG\r\n\x1a\n")
        || data.starts_with(&[0xFF, 0xD8, 0xFF])
        || data.starts_with(b"GIF87a")
        || data.starts_with(b"GIF89a")
}

/// The texts of the QR codes in an image (empty when it has none or cannot be read).
pub fn decode(data: &[u8]) -> Vec<String> {
    if !is_image(data) {
        return Vec::new();
    }
    let Some(img) = load(data) else {
        return Vec::new();
    };
    let luma = if img.width().max(img.height()) > SEARCH_SIDE {
        img.resize(SEARCH_SIDE, SEARCH_SIDE, FilterType::Triangle)
            .to_luma8()
    } else {
        img.to_luma8()
    };
    let mut prepared = rqrr::PreparedImage::prepare(luma);
    prepared
        .detect_grids()
        .into_iter()
        .take(MAX_CODES)
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .filter(|t| !t.is_empty())
        .collect()
}

fn load(data: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::new(std::io::Cursor::new(data))
        .with_guessed_format()
        .ok()?;
    let (w, h) = reader.into_dimensions().ok()?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS || w == 0 || h == 0 {
        return None;
    }
    reader = ImageReader::new(std::io::Cursor::new(data))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_PIXELS * 4 + (16 << 20));
    reader.limits(limits);
    // Bounded by the pixel check above and the allocation limits just set.
    #[allow(clippy::disallowed_methods)]
    let image = reader.decode().ok();
    image
}

/// The JPEG images (`/DCTDecode` streams) of a PDF, at most [`MAX_IMAGES`].
pub fn pdf_jpegs(pdf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut from = 0;
    while out.len() < MAX_IMAGES {
        let Some(at) = memchr::memmem::find(&pdf[from..], b"/DCTDecode").map(|i| from + i) else {
            break;
        };
        from = at + 10;
        let Some(start) = memchr::memmem::find(&pdf[from..], b"stream").map(|i| from + i + 6)
        else {
            break;
        };
        let mut start = start;
        if pdf.get(start) == Some(&b'\r') {
            start += 1;
        }
        if pdf.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end) = memchr::memmem::find(&pdf[start..], b"endstream").map(|i| start + i) else {
            break;
        };
        if pdf[start..end].starts_with(&[0xFF, 0xD8, 0xFF]) {
            out.push(&pdf[start..end]);
        }
        from = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG (or JPEG) of a QR code carrying `text`, drawn by the `qrcode` crate.
    fn qr_image(text: &str, format: image::ImageFormat) -> Vec<u8> {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("encodes");
        let img = code
            .render::<image::Luma<u8>>()
            .min_dimensions(300, 300)
            .build();
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageLuma8(img)
            .write_to(&mut out, format)
            .expect("image written");
        out.into_inner()
    }

    #[test]
    fn codes_in_png_and_jpeg_images_are_read() {
        let url = "https://mailbox-keep.web.app/renew#bob@acme.example";
        assert_eq!(decode(&qr_image(url, image::ImageFormat::Png)), [url]);
        assert_eq!(decode(&qr_image(url, image::ImageFormat::Jpeg)), [url]);
    }

    #[test]
    fn images_without_codes_broken_ones_and_giants_yield_nothing() {
        let blank = {
            let img = image::GrayImage::from_pixel(200, 200, image::Luma([255u8]));
            let mut out = std::io::Cursor::new(Vec::new());
            DynamicImage::ImageLuma8(img)
                .write_to(&mut out, image::ImageFormat::Png)
                .expect("png");
            out.into_inner()
        };
        assert!(decode(&blank).is_empty());
        let png = qr_image("https://x.example/", image::ImageFormat::Png);
        assert!(decode(&png[..png.len() / 2]).is_empty());
        assert!(decode(b"not an image").is_empty());
        // A header claiming 100 000 x 100 000 pixels is refused before anything is allocated.
        let mut giant = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        giant.extend_from_slice(&100_000u32.to_be_bytes());
        giant.extend_from_slice(&100_000u32.to_be_bytes());
        giant.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode(&giant).is_empty());
    }

    #[test]
    fn jpeg_images_of_a_pdf_are_found() {
        let jpeg = qr_image("https://x.example/pdf", image::ImageFormat::Jpeg);
        let mut pdf = b"%PDF-1.4\n5 0 obj << /Type /XObject /Subtype /Image /Filter /DCTDecode /Length 9 >>\nstream\n".to_vec();
        pdf.extend_from_slice(&jpeg);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        let found = pdf_jpegs(&pdf);
        assert_eq!(found.len(), 1);
        assert_eq!(decode(found[0]), ["https://x.example/pdf"]);
    }
}
