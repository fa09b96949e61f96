# The study database: functional tests and reliability tests (kills, concurrent writers, full
# disk), both on real SQLite files in temporary folders. db_helper is the process they start.
if(TARGET panseg_database)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Sql) # the tests also use a raw second connection
  set(_db ${CMAKE_CURRENT_SOURCE_DIR}/database)
  add_executable(panseg_db_helper ${_db}/db_helper.cpp ${_db}/DbTestUtil.h)
  target_link_libraries(panseg_db_helper PRIVATE panseg_database Qt6::Sql panseg_warnings)

  panseg_add_test(tst_database BOTH_BACKENDS SOURCES ${_db}/tst_database.cpp ${_db}/DbTestUtil.h LIBS panseg_database Qt6::Sql)
  panseg_add_test(tst_database_reliability SOURCES ${_db}/tst_database_reliability.cpp ${_db}/DbTestUtil.h
                  LIBS panseg_database Qt6::Sql)
  foreach(t tst_database tst_database_reliability)
    target_compile_definitions(${t} PRIVATE PANSEG_DB_HELPER="$<TARGET_FILE:panseg_db_helper>")
    add_dependencies(${t} panseg_db_helper)
  endforeach()
  set_tests_properties(tst_database_reliability PROPERTIES TIMEOUT 300)

  # Issue 20 defects 8 and 9: plausibility of AI masks, the reference-mask rule (and their CLI).
  panseg_add_test(tst_plausibility_db BOTH_BACKENDS SOURCES ${_db}/tst_plausibility_db.cpp ${_db}/DbTestUtil.h
                  LIBS panseg_database Qt6::Sql)
  if(TARGET panseg)
    target_compile_definitions(tst_plausibility_db PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
    add_dependencies(tst_plausibility_db panseg)
  endif()
endif()
# Issue 20: named, coloured labels (label tables per mask version, model package names, blinding).
if(TARGET panseg_database)
  panseg_add_test(tst_label_tables BOTH_BACKENDS SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/database/tst_label_tables.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/database/DbTestUtil.h LIBS panseg_database panseg_io Qt6::Sql)
  target_compile_definitions(tst_label_tables PRIVATE PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  if(TARGET panseg)
    target_compile_definitions(tst_label_tables PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
    add_dependencies(tst_label_tables panseg)
  endif()
endif()
# The model catalog (bundled package folders, registry, promoted defaults, menu labels).
if(TARGET panseg_database)
  panseg_add_test(tst_model_catalog SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/database/tst_model_catalog.cpp
                  LIBS panseg_database)
endif()
# Issue 14: one mask version's steps written once for the GUI and the CLI (database/studies/MaskWorkflow.h).
if(TARGET panseg_database)
  panseg_add_test(tst_mask_workflow BOTH_BACKENDS SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/database/tst_mask_workflow.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/database/DbTestUtil.h LIBS panseg_database Qt6::Sql)
  target_compile_definitions(tst_mask_workflow PRIVATE PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  panseg_add_test(tst_workstation_session BOTH_BACKENDS SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/database/tst_workstation_session.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/database/DbTestUtil.h LIBS panseg_database Qt6::Sql)
  target_compile_definitions(tst_workstation_session PRIVATE PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
endif()
