# core/display: headless, pure C++ under test.
panseg_add_test(tst_display
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_display.cpp
  LIBS panseg_core)
panseg_add_test(tst_label_presets
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_label_presets.cpp
  LIBS panseg_core)
