// A minimal MPEG-TS muxer for one AAC audio stream (ADTS): enough for the built-in generator to
// publish real HLS segments and LL-HLS parts when ffmpeg is not installed.

const PACKET = 188
const PMT_PID = 0x1000
const AUDIO_PID = 0x100
/** AAC-LC frames are 1024 samples; at 48 kHz that is exactly 1,920 ticks of the 90 kHz clock. */
const SAMPLE_RATE = 48_000
export const FRAME_TICKS = (1024 * 90_000) / SAMPLE_RATE
export const FRAME_SECONDS = 1024 / SAMPLE_RATE
/** ADTS's index of 48 kHz in the MPEG-4 sampling frequency table. */
const SAMPLING_INDEX_48K = 3

/** Writes values MSB-first, bit by bit, into bytes (zero-padded to a whole byte). */
function packBits(fields: ReadonlyArray<readonly [value: number, bits: number]>): Buffer {
  const bits: number[] = []
  for (const [value, width] of fields) {
    for (let bit = width - 1; bit >= 0; bit--) bits.push(Math.floor(value / 2 ** bit) % 2)
  }
  const bytes = Buffer.alloc(Math.ceil(bits.length / 8))
  bits.forEach((bit, i) => {
    bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (bit << (7 - (i & 7)))
  })
  return bytes
}

/**
 * One silent AAC-LC frame in ADTS, mono, 48 kHz: a single channel element whose long window
 * codes no scale factor band (max_sfb 0), so there are no spectral coefficients and every
 * decoder outputs 1,024 samples of silence (ISO/IEC 14496-3, raw_data_block).
 */
export function silentAacFrame(): Buffer {
  const rawDataBlock = packBits([
    [0, 3], // id_syn_ele: SCE (single channel element)
    [0, 4], // element_instance_tag
    [100, 8], // global_gain (any value: no coefficient uses it)
    [0, 1], // ics_reserved_bit
    [0, 2], // window_sequence: ONLY_LONG_SEQUENCE
    [0, 1], // window_shape
    [0, 6], // max_sfb: no bands
    [0, 1], // predictor_data_present
    [0, 1], // pulse_data_present
    [0, 1], // tns_data_present
    [0, 1], // gain_control_data_present
    [7, 3], // id_syn_ele: END
  ])
  const header = packBits([
    [0xfff, 12], // syncword
    [0, 1], // ID: MPEG-4
    [0, 2], // layer
    [1, 1], // protection_absent: no CRC
    [1, 2], // profile: AAC LC (audio object type 2, minus one)
    [SAMPLING_INDEX_48K, 4],
    [0, 1], // private_bit
    [1, 3], // channel_configuration: mono
    [0, 4], // original_copy, home, copyright_identification_bit and _start
    [7 + rawDataBlock.length, 13], // aac_frame_length, header included
    [0x7ff, 11], // adts_buffer_fullness: variable bit rate
    [0, 2], // number_of_raw_data_blocks_in_frame, minus one
  ])
  return Buffer.concat([header, rawDataBlock])
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 24
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1
    table[i] = crc >>> 0
  }
  return table
})()

/** CRC-32/MPEG-2 of a PSI section (polynomial 0x04C11DB7, no reflection, no final xor). */
export function crc32Mpeg2(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] ?? 0)) >>> 0
  return crc
}

function section(body: number[]): Buffer {
  const bytes = Buffer.from(body)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32Mpeg2(bytes))
  return Buffer.concat([bytes, crc])
}

/** Program association: program 1 is described at PMT_PID. */
const PAT = section([
  0x00,
  0xb0,
  13,
  0x00,
  0x01,
  0xc1,
  0x00,
  0x00,
  0x00,
  0x01,
  0xe0 | (PMT_PID >> 8),
  PMT_PID & 0xff,
])
/** Program map: one AAC stream in ADTS (type 0x0F) on AUDIO_PID, which also carries the PCR. */
const PMT = section([
  0x02,
  0xb0,
  18,
  0x00,
  0x01,
  0xc1,
  0x00,
  0x00,
  0xe0 | (AUDIO_PID >> 8),
  AUDIO_PID & 0xff,
  0xf0,
  0x00,
  0x0f,
  0xe0 | (AUDIO_PID >> 8),
  AUDIO_PID & 0xff,
  0xf0,
  0x00,
])

/** Writes the packets of one stream, keeping its continuity counter. */
class Packetizer {
  #counter = 0
  constructor(readonly pid: number) {}

  /** Splits `payload` into packets; the first starts a unit and may carry a PCR (90 kHz base). */
  packets(payload: Buffer, pcr?: number): Buffer[] {
    const packets: Buffer[] = []
    let offset = 0
    while (offset < payload.length || packets.length === 0) {
      const first = packets.length === 0
      const packet = Buffer.alloc(PACKET, 0xff)
      packet[0] = 0x47
      packet[1] = (first ? 0x40 : 0) | (this.pid >> 8)
      packet[2] = this.pid & 0xff
      const adaptation: number[] = []
      if (first && pcr !== undefined) {
        const base = Math.floor(pcr)
        // flags: PCR present; PCR is 33 bits of base, 6 reserved bits, 9 bits of extension (0).
        adaptation.push(
          0x10,
          (base / 2 ** 25) & 0xff,
          (base >>> 17) & 0xff,
          (base >>> 9) & 0xff,
          (base >>> 1) & 0xff,
          ((base & 1) << 7) | 0x7e,
          0x00,
        )
      }
      const room = PACKET - 4 - (adaptation.length > 0 ? adaptation.length + 1 : 0)
      const take = Math.min(room, payload.length - offset)
      if (adaptation.length > 0 || take < PACKET - 4) {
        // An adaptation field pads a short last packet: length byte, flags, then 0xFF stuffing.
        const fieldLength = PACKET - 4 - 1 - take
        packet[3] = 0x30 | this.#counter
        packet[4] = fieldLength
        if (fieldLength > 0) packet.set(adaptation.length > 0 ? adaptation : [0x00], 5)
        payload.copy(packet, 5 + fieldLength, offset, offset + take)
      } else {
        packet[3] = 0x10 | this.#counter
        payload.copy(packet, 4, offset, offset + take)
      }
      this.#counter = (this.#counter + 1) & 0x0f
      offset += take
      packets.push(packet)
    }
    return packets
  }
}

function pts(ticks: number): number[] {
  const value = Math.round(ticks)
  return [
    0x21 | ((Math.floor(value / 2 ** 30) & 0x07) << 1),
    (value >>> 22) & 0xff,
    (((value >>> 15) & 0x7f) << 1) | 1,
    (value >>> 7) & 0xff,
    ((value & 0x7f) << 1) | 1,
  ]
}

/** MPEG-TS for one audio stream: tables at the start of each segment, one PES per frame. */
export class AudioTsMuxer {
  readonly #pat = new Packetizer(0)
  readonly #pmt = new Packetizer(PMT_PID)
  readonly #audio = new Packetizer(AUDIO_PID)

  /** PAT and PMT: every segment starts with them so that it decodes on its own. */
  tables(): Buffer {
    return Buffer.concat([
      ...this.#pat.packets(Buffer.concat([Buffer.of(0), PAT])),
      ...this.#pmt.packets(Buffer.concat([Buffer.of(0), PMT])),
    ])
  }

  /** One audio frame presented at `ticks` (90 kHz). */
  frame(frame: Buffer, ticks: number): Buffer {
    const length = 3 + 5 + frame.length
    const header = Buffer.from([
      0,
      0,
      1,
      0xc0,
      length >> 8,
      length & 0xff,
      0x80,
      0x80,
      5,
      ...pts(ticks),
    ])
    return Buffer.concat(this.#audio.packets(Buffer.concat([header, frame]), ticks))
  }
}
