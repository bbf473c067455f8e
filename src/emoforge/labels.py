"""Canonical emotion labels and the explicit maps between label sets."""

SPEECH_EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
EXTRA_EMOTIONS = ["boredom", "frustration", "excited"]
CANONICAL = SPEECH_EMOTIONS + EXTRA_EMOTIONS

# FER-2013's integer codes, in its own order, and its folder names.
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER_TO_CANONICAL = {
    "angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
    "sad": "sad", "surprise": "surprised", "neutral": "neutral",
}
FACE_EMOTIONS = [FER_TO_CANONICAL[c] for c in FER_CLASSES]

# Speech emotion -> the face class drawn for it. FER-2013 has no calm, boredom, frustration or
# excited face: calm and boredom are drawn neutral (low arousal, no valence), frustration
# angry and excited happy (same valence and arousal quadrant).
SPEECH_TO_FACE = {e: e for e in FACE_EMOTIONS} | {
    "calm": "neutral", "boredom": "neutral", "frustration": "angry", "excited": "happy"}


def check_canonical(label: str) -> str:
    if label not in CANONICAL:
        raise ValueError(f"{label!r} is not a canonical emotion; expected one of {CANONICAL}")
    return label
