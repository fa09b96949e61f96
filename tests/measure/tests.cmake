# Measurements (core/measure): distances, mask statistics, principal-axis lengths; the real
# TotalSegmentator pancreas through panseg_io when it is built. The GUI test drives the ruler and
# the Measurements dock under xvfb.
if(TARGET panseg_io)
  panseg_add_test(tst_measure SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measure/tst_measure.cpp
                  LIBS panseg_core panseg_io)
  target_compile_definitions(tst_measure PRIVATE PANSEG_HAVE_IO=1)
else()
  panseg_add_test(tst_measure SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measure/tst_measure.cpp LIBS panseg_core)
endif()
# `panseg measure` through the real executable (no display needed).
if(TARGET panseg)
  panseg_add_test(tst_measure_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measure/tst_measure_cli.cpp
                  LIBS panseg_core panseg_io)
  target_compile_definitions(tst_measure_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_measure_cli panseg)
endif()
# The Ruler tool and the Measurements dock in the real main window (xvfb).
if(TARGET panseg_ui)
  panseg_add_test(tst_measure_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measure/tst_measure_gui.cpp
                  LIBS panseg_ui panseg_core GUI)
endif()
