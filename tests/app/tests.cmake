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

# Issue 21 part 5: the worker dies with its parent, honours SIGTERM, refuses absurd plans and
# damaged packages (tests/app/tst_worker_safety.cpp).
if(TARGET panseg AND TARGET panseg-worker)
  panseg_add_test(tst_worker_safety SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_worker_safety.cpp LIBS Qt6::Core)
  target_compile_definitions(tst_worker_safety PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                                       PANSEG_WORKER_EXE="$<TARGET_FILE:panseg-worker>"
                                                       PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_worker_safety panseg panseg-worker)
  set_tests_properties(tst_worker_safety PROPERTIES TIMEOUT 900)
endif()

# Issue 19: `panseg doctor` with the real helpers (LibTorch version, CUDA and why not, smoke pass,
# the preferred LibTorch helper folder, --device cuda naming the reason); tests/app/tst_doctor.cpp.
if(TARGET panseg AND TARGET panseg-worker AND TARGET panseg-train)
  panseg_add_test(tst_doctor SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/app/tst_doctor.cpp LIBS Qt6::Core)
  target_compile_definitions(tst_doctor PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                                PANSEG_WORKER_EXE="$<TARGET_FILE:panseg-worker>"
                                                PANSEG_TRAIN_EXE="$<TARGET_FILE:panseg-train>"
                                                PANSEG_BUILD_DIR="${CMAKE_BINARY_DIR}"
                                                PANSEG_EXPECTED_TORCH_VERSION="${PANSEG_TORCH_VERSION}"
                                                PANSEG_EXPECTED_TORCH_CUDA=${PANSEG_TORCH_HAS_CUDA}
                                                PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_doctor panseg panseg-worker panseg-train)
  set_tests_properties(tst_doctor PROPERTIES TIMEOUT 600 LABELS "app;doctor")
endif()
