//! The geometry of the interactive map page (`/ban-do`): boundaries projected to Web Mercator —
//! the projection of OpenStreetMap's tiles, so that the optional background lines up — in a
//! frame of at most [`FRAME_PX`] pixels, simplified for a level of detail and written as path
//! data ([`crate::map::paths_with`]: the same shared-arc simplification as the choropleth);
//! village points placed for drawing. The frame is a window on the Web Mercator "world" of
//! zoom [`Frame::zoom`] (256·2^zoom pixels round the globe), so a script can place tiles of
//! any zoom in it: a tile `(z, x, y)` covers frame pixels `x·t − x0 … (x+1)·t − x0`,
//! `t = 256·2^(zoom − z)`.

use crate::map::{MapUnit, paths_with};
use geo::{BoundingRect, Coord, Rect};
use std::collections::HashMap;

/// Largest side of the frame, in pixels.
pub const FRAME_PX: f64 = 1024.0;
/// Web Mercator's latitude limit.
const MAX_LAT: f64 = 85.051_128_78;

/// A window on the Web Mercator world of a zoom level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub zoom: u32,
    /// World pixels (at `zoom`) of the frame's top left corner.
    pub x0: f64,
    pub y0: f64,
    pub width: f64,
    pub height: f64,
}

/// World pixels of a point at zoom `z`.
fn world(c: Coord<f64>, z: u32) -> Coord<f64> {
    let n = 256.0 * f64::from(1u32 << z.min(24));
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: (c.x + 180.0) / 360.0 * n,
        y: (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n,
    }
}

impl Frame {
    /// The frame of an extent (lon/lat): the deepest zoom at which it fits in [`FRAME_PX`],
    /// with a margin of 2 %; `None` for an extent that is not finite.
    pub fn fit(r: Rect<f64>) -> Option<Frame> {
        let finite = [r.min().x, r.min().y, r.max().x, r.max().y]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return None;
        }
        let side = |z: u32| {
            let (a, b) = (world(r.min(), z), world(r.max(), z));
            ((b.x - a.x).abs().max((a.y - b.y).abs())) * 1.04
        };
        let zoom = (0..=18).rev().find(|&z| side(z) <= FRAME_PX).unwrap_or(0);
        let (a, b) = (
            world(
                Coord {
                    x: r.min().x,
                    y: r.max().y,
                },
                zoom,
            ),
            world(
                Coord {
                    x: r.max().x,
                    y: r.min().y,
                },
                zoom,
            ),
        );
        let (w, h) = ((b.x - a.x).max(1.0), (b.y - a.y).max(1.0));
        let m = 0.02 * w.max(h);
        Some(Frame {
            zoom,
            x0: (a.x - m).floor(),
            y0: (a.y - m).floor(),
            width: (w + 2.0 * m).ceil(),
            height: (h + 2.0 * m).ceil(),
        })
    }

    /// The frame of every unit's boundary.
    pub fn of_units(units: &[MapUnit]) -> Option<Frame> {
        let r = units
            .iter()
            .filter_map(|u| u.geometry.bounding_rect())
            .reduce(|a, b| {
                Rect::new(
                    Coord {
                        x: a.min().x.min(b.min().x),
                        y: a.min().y.min(b.min().y),
                    },
                    Coord {
                        x: a.max().x.max(b.max().x),
                        y: a.max().y.max(b.max().y),
                    },
                )
            })?;
        Frame::fit(r)
    }

    /// Frame pixels of a point (lon/lat).
    pub fn px(&self, c: Coord<f64>) -> Coord<f64> {
        let w = world(c, self.zoom);
        Coord {
            x: w.x - self.x0,
            y: w.y - self.y0,
        }
    }

    /// The point (lon/lat) at frame pixels.
    pub fn lonlat(&self, p: Coord<f64>) -> Coord<f64> {
        let n = 256.0 * f64::from(1u32 << self.zoom.min(24));
        let (x, y) = (p.x + self.x0, p.y + self.y0);
        let lat = (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees();
        Coord {
            x: x / n * 360.0 - 180.0,
            y: lat,
        }
    }
}

/// Levels of detail the page asks for as it zooms in: 1 (the page), 4 and 16.
pub const DETAILS: [u32; 3] = [1, 4, 16];

/// Grid of the path coordinates at a level of detail, in frame pixels: a tenth of a pixel at
/// the level's scale. The page draws them in a group scaled by this.
pub fn quantum(detail: u32) -> f64 {
    0.1 / f64::from(detail.max(1))
}

/// The path data of each unit at a level of detail (1, 4, 16: the map shown that many times
/// larger than its frame), simplified at half a pixel of that scale, in whole units of
/// [`quantum`]`(detail)` frame pixels.
pub fn paths(units: &[MapUnit], frame: &Frame, detail: u32) -> Vec<String> {
    let k = f64::from(detail.max(1));
    paths_with(
        units,
        &|c| {
            let p = frame.px(c);
            Coord {
                x: p.x * k,
                y: p.y * k,
            }
        },
        0.5,
        0.1,
    )
}

/// Where to draw points (lon/lat, and whether each was placed at its commune's centroid for
/// want of coordinates), in frame pixels: a point of its own where it is; points placed at the
/// same centroid spread round it on a sunflower spiral `spacing` pixels apart, so that each
/// shows and can be told from one with coordinates of its own.
pub fn place_points(points: &[(f64, f64, bool)], frame: &Frame, spacing: f64) -> Vec<Coord<f64>> {
    let mut shared: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, (lon, lat, geocoded)) in points.iter().enumerate() {
        if *geocoded {
            shared
                .entry((lon.to_bits(), lat.to_bits()))
                .or_default()
                .push(i);
        }
    }
    let mut out: Vec<Coord<f64>> = points
        .iter()
        .map(|(lon, lat, _)| frame.px(Coord { x: *lon, y: *lat }))
        .collect();
    // the golden angle: successive points turn by it, and fill a disc evenly
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    for group in shared.values() {
        for (k, &i) in group.iter().enumerate() {
            let r = spacing * (k as f64 + 0.5).sqrt();
            let a = k as f64 * golden;
            out[i].x += r * a.cos();
            out[i].y += r * a.sin();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn square(code: &str, x: f64, y: f64, side: f64) -> MapUnit {
        MapUnit {
            code: code.into(),
            name: code.into(),
            geometry: MultiPolygon(vec![polygon![
                (x: x, y: y),
                (x: x + side, y: y),
                (x: x + side, y: y + side),
                (x: x, y: y + side),
                (x: x, y: y),
            ]]),
            value: None,
            estimated: false,
        }
    }

    #[test]
    fn frame_fits_and_matches_the_tiles() {
        // a province-sized extent: 1.6° wide near Cao Bằng
        let units = vec![square("A", 105.3, 22.3, 0.8), square("B", 106.1, 22.3, 0.8)];
        let f = Frame::of_units(&units).unwrap();
        assert!(f.width <= FRAME_PX && f.height <= FRAME_PX, "{f:?}");
        // the deepest zoom that fits: one more would not
        assert!(f.width.max(f.height) * 2.0 > FRAME_PX * 1.02, "{f:?}");
        assert_eq!(f.zoom, 9);
        // the corners land inside the frame, north up
        let nw = f.px(Coord { x: 105.3, y: 23.1 });
        let se = f.px(Coord { x: 106.9, y: 22.3 });
        assert!(nw.x > 0.0 && nw.y > 0.0 && se.x < f.width && se.y < f.height);
        assert!(nw.y < se.y);
        // round trip
        let back = f.lonlat(f.px(Coord {
            x: 106.25,
            y: 22.66,
        }));
        assert!((back.x - 106.25).abs() < 1e-9 && (back.y - 22.66).abs() < 1e-9);
        // Web Mercator as OpenStreetMap's tiles use it: Hà Nội (105.8542, 21.0285) lies in
        // the tile 12/3252/1803: x = ⌊(lon + 180) / 360 · 2¹²⌋ = ⌊3252.4⌋,
        // y = ⌊(1 − ln(tan φ + sec φ) / π) / 2 · 2¹²⌋ = ⌊(1 − 0.37539 / π) / 2 · 4096⌋ = ⌊1803.3⌋
        let w = world(
            Coord {
                x: 105.8542,
                y: 21.0285,
            },
            12,
        );
        assert_eq!(((w.x / 256.0) as u32, (w.y / 256.0) as u32), (3252, 1803));
    }

    #[test]
    fn paths_get_finer_with_detail() {
        let mut u = square("A", 105.0, 21.0, 0.5);
        // a wiggly edge of 400 small steps
        let edge: Vec<Coord<f64>> = (0..=400)
            .map(|i| Coord {
                x: 105.0 + 0.5 * i as f64 / 400.0,
                y: 21.0 + 0.004 * (i as f64 * 0.7).sin(),
            })
            .collect();
        let mut ring = edge.clone();
        ring.push(Coord { x: 105.5, y: 21.5 });
        ring.push(Coord { x: 105.0, y: 21.5 });
        ring.push(edge[0]);
        u.geometry = MultiPolygon(vec![geo::Polygon::new(geo::LineString(ring), vec![])]);
        let units = vec![u];
        let f = Frame::of_units(&units).unwrap();
        let count = |d: &str| d.matches([' ', '-']).count();
        let p1 = paths(&units, &f, 1);
        let p16 = paths(&units, &f, 16);
        assert_eq!(p1.len(), 1);
        assert!(p1[0].starts_with('M') && p1[0].ends_with('z'));
        assert!(count(&p16[0]) > count(&p1[0]), "{} vs {}", p16[0], p1[0]);
    }

    #[test]
    fn shared_centroids_spread() {
        let f = Frame::fit(Rect::new(
            Coord { x: 105.0, y: 21.0 },
            Coord { x: 106.0, y: 22.0 },
        ))
        .unwrap();
        let pts = vec![
            (105.5, 21.5, true),
            (105.5, 21.5, true),
            (105.5, 21.5, true),
            (105.2, 21.2, false),
            (105.2, 21.2, false),
        ];
        let at = place_points(&pts, &f, 6.0);
        let c = f.px(Coord { x: 105.5, y: 21.5 });
        for p in &at[..3] {
            let d = ((p.x - c.x).powi(2) + (p.y - c.y).powi(2)).sqrt();
            assert!(d > 2.0 && d < 12.0, "{d}");
        }
        for i in 0..3 {
            for j in i + 1..3 {
                let d = ((at[i].x - at[j].x).powi(2) + (at[i].y - at[j].y).powi(2)).sqrt();
                assert!(d > 3.0, "{i} {j}: {d}");
            }
        }
        // points with coordinates of their own stay where they are, even on one spot
        assert_eq!(at[3], f.px(Coord { x: 105.2, y: 21.2 }));
        assert_eq!(at[3], at[4]);
    }
}
