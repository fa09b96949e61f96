# Synthetic demo study (core/demo): determinism, pancreas volume and shape, anatomical plausibility.
panseg_add_test(tst_phantom SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/demo/tst_phantom.cpp LIBS panseg_core)
