# Fine-tuning jobs (docs/fine-tuning.md): the real `panseg train` with the real panseg-train and
# panseg-worker on generated phantoms in a temporary study database.
if(TARGET panseg AND TARGET panseg-train AND TARGET panseg-worker)
  # tst_jobs also runs against a real PostgreSQL (tst_jobs_pg): a training job in department mode.
  foreach(_t tst_jobs tst_jobs_cancel tst_jobs_pnet)
    set(_backends)
    if(_t STREQUAL "tst_jobs")
      set(_backends BOTH_BACKENDS)
    endif()
    panseg_add_test(${_t} ${_backends} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/${_t}.cpp
                            ${CMAKE_CURRENT_SOURCE_DIR}/jobs/JobsTestUtil.h
                    LIBS panseg_database panseg_io panseg_core Qt6::Core)
    target_compile_definitions(${_t} PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                             PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo"
                                             PANSEG_PNET_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/pnet-msa-demo")
    add_dependencies(${_t} panseg panseg-train panseg-worker)
    set_tests_properties(${_t} PROPERTIES TIMEOUT 300 LABELS jobs)
    if(TEST ${_t}_pg)
      set_tests_properties(${_t}_pg PROPERTIES TIMEOUT 300 LABELS jobs)
    endif()
  endforeach()
endif()

# The training-job engine in-process (database/jobs/TrainingJobs.h), with the real panseg-train.
if(TARGET panseg AND TARGET panseg-train)
  panseg_add_test(tst_training_jobs SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/tst_training_jobs.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/jobs/JobsTestUtil.h
                  LIBS panseg_database panseg_io panseg_core Qt6::Core)
  target_compile_definitions(tst_training_jobs PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                             PANSEG_TRAIN_EXE="$<TARGET_FILE:panseg-train>"
                             PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_training_jobs panseg panseg-train)
  set_tests_properties(tst_training_jobs PROPERTIES TIMEOUT 300 LABELS jobs)
endif()

# The Jobs dock and the Fine-tune dialog (widgets, no training).
if(TARGET panseg_ui)
  panseg_add_test(tst_jobs_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/tst_jobs_gui.cpp
                  LIBS panseg_ui panseg_database GUI)
  target_compile_definitions(tst_jobs_gui PRIVATE PANSEG_MODELS_DIR="${PROJECT_SOURCE_DIR}/resources/models")
endif()
