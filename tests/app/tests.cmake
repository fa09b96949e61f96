# Drives the real `panseg` executable as a user would. GUI: `screenshot` needs the X display.
if(TARGET panseg)
  find_package(Qt6 REQUIRED COMPONENTS Gui)
  panseg_add_test(tst_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_cli.cpp LIBS panseg_core Qt6::Gui GUI)
  target_compile_definitions(tst_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>" PANSEG_EXPECTED_VERSION="${PROJECT_VERSION}")
  add_dependencies(tst_cli panseg)
endif()
