"""Pictures and video of the GFV reference software: reading, writing, colour, checks, FFmpeg.

One home for what the encoder, the decoder, the codec backends, the CTC scripts and the quality
metrics share:

* :mod:`refsw.media.video_io`: read user video (container files and PNG pictures through
  imageio, the raw JVET CTC ``.yuv``/``.rgb`` files with an own reader) and write
  mp4/y4m/yuv/rgb.
* :mod:`refsw.media.face_crop`: face-centred square cropping into the CTC format.
* :mod:`refsw.media.colour`: the RGB <-> YUV 4:2:0 conversions (OpenCV's BT.601 limited range).
* :mod:`refsw.media.frames`: the check of ``(N, H, W, 3)`` ``uint8`` RGB frame arrays and
  :class:`~refsw.media.frames.InputError`.
* :mod:`refsw.media.ffmpeg`: where the FFmpeg executable is and what it was built with.

The submodules are not imported here: they pull in PyAV, OpenCV, imageio or MediaPipe, and each
caller needs only some of them.
"""
