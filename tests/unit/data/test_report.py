from studio.data.report import GARBLED


def test_garbled_pattern_spares_real_accents_and_chinese() -> None:
    assert all(GARBLED.search(s) for s in ("cafÃ©", "itâ€™s", "æ–‡å­—", "bad \ufffd byte"))
    assert not any(GARBLED.search(s) for s in ("café’s", "naïve", "中文数据", "Ørsted"))
