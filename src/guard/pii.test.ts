import { describe, expect, it } from 'vitest';
import { detectPii, Pseudonymiser } from './index.js';

const types = (text: string) => detectPii(text).map((m) => `${m.type}:${text.slice(m.start, m.end)}`);

describe('detectPii', () => {
  it('finds each kind of personal data', () => {
    expect(types('Mail jane.roe@example.com now')).toEqual(['EMAIL:jane.roe@example.com']);
    expect(types('Card 4111 1111 1111 1111 please')).toEqual(['CARD:4111 1111 1111 1111']);
    expect(types('IBAN DE89 3704 0044 0532 0130 00 ok')).toEqual(['IBAN:DE89 3704 0044 0532 0130 00']);
    expect(types('SSN 123-45-6789.')).toEqual(['SSN:123-45-6789']);
    expect(types('from 192.168.10.4 and 2001:db8::1')).toEqual(['IP:192.168.10.4', 'IP:2001:db8::1']);
    expect(types('record: 203.0.113.42. Then 2001:db8::8a2e:370:7334: approved; (fe80::1), 10.0.0.1: ok')).toEqual([
      'IP:203.0.113.42',
      'IP:2001:db8::8a2e:370:7334',
      'IP:fe80::1',
      'IP:10.0.0.1',
    ]);
    expect(types('call +44 20 7946 0958 or (555) 123-4567')).toEqual(['PHONE:+44 20 7946 0958', 'PHONE:(555) 123-4567']);
    expect(types('Dr Jane Roe met us; my name is John Smith.')).toEqual(['PERSON:Jane Roe', 'PERSON:John Smith']);
  });

  it('rejects look-alikes that fail their checksums or shapes', () => {
    expect(types('Card 4111 1111 1111 1112')).toEqual([]);
    expect(types('IBAN DE89 3704 0044 0532 0130 01')).toEqual([]);
    expect(types('version 1.2.3.4.5, 999.1.1.1, at 10:30:00, in 2026, 12345 units')).toEqual([]);
    expect(types('build 1.2.3.4.5. and 10:30:00: done')).toEqual([]);
    expect(types('SSN 000-12-3456').filter((t) => t.startsWith('SSN'))).toEqual([]);
  });
});

describe('Pseudonymiser', () => {
  it('redacts without a way back', () => {
    const p = new Pseudonymiser('redact');
    expect(p.apply('jane@example.com wrote to bob@example.com')).toBe('<EMAIL> wrote to <EMAIL>');
    expect(p.restore('<EMAIL>')).toBe('<EMAIL>');
    expect([...p.types]).toEqual(['EMAIL']);
  });

  it('uses one placeholder per value and restores them', () => {
    const p = new Pseudonymiser('pseudonymise');
    const a = p.apply('Dr Jane Roe (jane@example.com) asked about Dr Jane Roe.');
    const b = p.apply('Also write to bob@example.com.');
    expect(a).toBe('Dr <PERSON_1> (<EMAIL_1>) asked about Dr <PERSON_1>.');
    expect(b).toBe('Also write to <EMAIL_2>.');
    expect(p.restore('Dear <PERSON_1>, cc <EMAIL_2>; <EMAIL_9> stays')).toBe('Dear Jane Roe, cc bob@example.com; <EMAIL_9> stays');
  });

  it('restores placeholders split across streamed pieces', () => {
    const p = new Pseudonymiser('pseudonymise');
    p.apply('my name is Jane Roe');
    const r = p.streamRestorer();
    const out = ['Hello <PER', 'SON', '_1', '>, welcome. <', 'b>bold</b> <PERSON_'].map((x) => r.push(x)).join('') + r.flush();
    expect(out).toBe('Hello Jane Roe, welcome. <b>bold</b> <PERSON_');
  });
});
