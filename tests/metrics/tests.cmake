# Agreement metrics and statistics (core/metrics, core/stats).
# The data tests read real masks through panseg_io (ITK); without it they skip with a message.
if(TARGET panseg_io)
  panseg_add_test(tst_agreement SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_agreement.cpp
                  LIBS panseg_core panseg_io)
  target_compile_definitions(tst_agreement PRIVATE PANSEG_HAVE_IO=1)
else()
  panseg_add_test(tst_agreement SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_agreement.cpp
                  LIBS panseg_core)
endif()
panseg_add_test(tst_stats SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_stats.cpp
                LIBS panseg_core)
panseg_add_test(tst_shape_stats SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_shape_stats.cpp
                LIBS panseg_core)
panseg_add_test(tst_staple SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_staple.cpp
                LIBS panseg_core)
# Plausibility of pancreas masks (core/metrics/Plausibility.h); real label maps through panseg_io.
if(TARGET panseg_io)
  panseg_add_test(tst_plausibility SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_plausibility.cpp
                  LIBS panseg_core panseg_io)
  target_compile_definitions(tst_plausibility PRIVATE PANSEG_HAVE_IO=1)
else()
  panseg_add_test(tst_plausibility SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics/tst_plausibility.cpp
                  LIBS panseg_core)
endif()
