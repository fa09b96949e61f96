# nnU-Net v1 inference pipeline without the network (core/preprocess): synthetic checks and
# parity with ../shared/fixtures/pansegnet-pipeline. Reading the fixture's NIfTI images needs
# panseg_io (ITK); without it those cases skip with a message.
if(TARGET panseg_io)
  panseg_add_test(tst_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/preprocess/tst_pipeline.cpp
                  LIBS panseg_core panseg_io)
  target_compile_definitions(tst_pipeline PRIVATE PANSEG_HAVE_IO=1)
else()
  panseg_add_test(tst_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/preprocess/tst_pipeline.cpp
                  LIBS panseg_core)
endif()
