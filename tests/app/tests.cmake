# Drives the real `panseg` executable as a user would. GUI: `screenshot` needs the X display.
if(TARGET panseg)
  find_package(Qt6 REQUIRED COMPONENTS Gui)
  panseg_add_test(tst_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_cli.cpp LIBS panseg_core Qt6::Gui GUI)
  target_compile_definitions(tst_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>" PANSEG_EXPECTED_VERSION="${PROJECT_VERSION}")
  add_dependencies(tst_cli panseg)
endif()

# `panseg predict --series` with the shipped demo model (needs the worker from the LibTorch build).
if(TARGET panseg AND TARGET panseg-worker)
  panseg_add_test(tst_predict_db SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_predict_db.cpp LIBS Qt6::Core)
  target_compile_definitions(tst_predict_db PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                                    PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_predict_db panseg panseg-worker)
  set_tests_properties(tst_predict_db PROPERTIES TIMEOUT 600)
endif()

# The study database through `panseg`: a blinded reader walking every subcommand, concurrent
# imports, the audit hash chain against raw-SQL tampering, user administration, migration 6.
if(TARGET panseg AND TARGET panseg_database)
  find_package(Qt6 REQUIRED COMPONENTS Sql)
  panseg_add_test(tst_db_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_db_cli.cpp
                  LIBS panseg_database panseg_io panseg_core Qt6::Sql)
  target_compile_definitions(tst_db_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_db_cli panseg)
  set_tests_properties(tst_db_cli PROPERTIES TIMEOUT 600)
endif()
