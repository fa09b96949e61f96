panseg_add_test(tst_io SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/io/tst_io.cpp LIBS panseg_io)
