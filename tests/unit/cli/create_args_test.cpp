// Command-line syntax: getopt_long's rules and qemu-img's messages.
#include <gtest/gtest.h>

#include "cli/create_args.h"
#include "cli/create_option_list.h"
#include "cli/create_option_table.h"
#include "cli/create_options.h"
#include "host/error.h"

namespace instar::cli {
namespace {

std::string error_of(const std::vector<std::string>& argv) {
    try {
        parse_create_args(argv);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(CreateArgs, OptionsAndOperandsInAnyOrder) {
    CreateArgs a = parse_create_args({"d.qcow2", "-f", "qcow2", "1G", "-qu", "-bbase", "-Fraw"});
    EXPECT_EQ(a.format, "qcow2");
    EXPECT_EQ(a.operands, (std::vector<std::string>{"d.qcow2", "1G"}));
    EXPECT_TRUE(a.quiet);
    EXPECT_TRUE(a.backing_unsafe);
    EXPECT_EQ(a.backing_file, "base");
    EXPECT_EQ(a.backing_format, "raw");
}

TEST(CreateArgs, LongOptions) {
    CreateArgs a = parse_create_args({"--format=vmdk", "--option", "compat6", "--backing", "p.vmdk",
                                      "--backing-format=vmdk", "--backing-unsafe", "--quiet", "--output", "json",
                                      "--sector-size=4k", "--grain-size", "4k", "--subformat=streamOptimized",
                                      "--deterministic", "--preallocation", "off", "d.vmdk", "1G"});
    EXPECT_EQ(a.format, "vmdk");
    EXPECT_EQ(a.options, (std::vector<std::string>{"compat6"}));
    EXPECT_EQ(a.backing_file, "p.vmdk");
    EXPECT_EQ(a.backing_format, "vmdk");
    EXPECT_TRUE(a.backing_unsafe && a.quiet && a.deterministic);
    EXPECT_EQ(a.output, OutputFormat::json);
    EXPECT_EQ(a.sector_size, "4k");
    EXPECT_EQ(a.grain_size, "4k");
    EXPECT_EQ(a.subformat, "streamOptimized");
    EXPECT_EQ(a.preallocation, "off");
    // Unique prefixes are accepted, as getopt_long does.
    EXPECT_EQ(parse_create_args({"--form", "qcow2"}).format, "qcow2");
    EXPECT_EQ(parse_create_args({"--lazy", "d"}).lazy_refcounts, true);
}

TEST(CreateArgs, DoubleDashEndsOptions) {
    CreateArgs a = parse_create_args({"--", "-d.img", "-1"});
    EXPECT_EQ(a.operands, (std::vector<std::string>{"-d.img", "-1"}));
    EXPECT_EQ(parse_create_args({"-", "1G"}).operands.front(), "-");
}

TEST(CreateArgs, HelpStopsParsing) {
    CreateArgs a = parse_create_args({"-h", "--bogus"});
    EXPECT_TRUE(a.help);
    EXPECT_TRUE(parse_create_args({"--help"}).help);
}

TEST(CreateArgs, Errors) {
    EXPECT_EQ(error_of({"-x"}), "unrecognized option '-x'");
    EXPECT_EQ(error_of({"--bogus"}), "unrecognized option '--bogus'");
    EXPECT_EQ(error_of({"--quiet=1"}), "unrecognized option '--quiet=1'");
    EXPECT_EQ(error_of({"-f"}), "missing argument for option '-f'");
    EXPECT_EQ(error_of({"-qf"}), "missing argument for option '-qf'");
    EXPECT_EQ(error_of({"--format"}), "missing argument for option '--format'");
    EXPECT_EQ(error_of({"--o", "x"}), "option '--o' is ambiguous");
    EXPECT_EQ(error_of({"-o", ""}), "Invalid option list: ");
    EXPECT_EQ(error_of({"-o", ",a"}), "Invalid option list: ,a");
    EXPECT_EQ(error_of({"-o", "a=1,"}), "Invalid option list: a=1,");
    EXPECT_EQ(error_of({"-o", "a=1,,"}), "(no error)");
    EXPECT_EQ(error_of({"--output", "xml"}), "--output must be used with human or json as argument.");
    // The first problem in command-line order wins, as in getopt's loop.
    EXPECT_EQ(error_of({"-o", ",", "-x"}), "Invalid option list: ,");
}

TEST(OptionList, QemuOptsSyntax) {
    auto o = split_option_list("a=1,b=x,,y,flag,noother,c=,=v");
    ASSERT_EQ(o.size(), 6u);
    EXPECT_EQ(o[0].name, "a");
    EXPECT_EQ(o[0].value, "1");
    EXPECT_EQ(o[1].value, "x,y");
    EXPECT_EQ(o[2].name, "flag");
    EXPECT_EQ(o[2].value, "on");
    EXPECT_EQ(o[3].name, "other");
    EXPECT_EQ(o[3].value, "off");
    EXPECT_EQ(o[4].name, "c");
    EXPECT_EQ(o[4].value, "");
    EXPECT_EQ(o[5].name, "");
    EXPECT_EQ(join_option_lists({"a=1", "b=2"}), "a=1,b=2");
    EXPECT_TRUE(option_list_wants_help("a=1,help"));
    EXPECT_TRUE(option_list_wants_help("?"));
    EXPECT_FALSE(option_list_wants_help("help=1"));
    EXPECT_FALSE(option_list_wants_help("nohelp"));
}

TEST(OptionHelp, CommittedText) {
    // Pinned from qemu-img 7.2.22 `create -f vpc -o help`; the live matrix
    // compares every format, with and without a filename.
    EXPECT_EQ(create_option_help(abi::Format::vpc, false),
              "Supported vpc options:\n"
              "  force_size=<bool (on/off)> - Force disk size calculation to use the actual size specified, "
              "rather than using the nearest CHS-based calculation\n"
              "  size=<size>            - Virtual disk size\n"
              "  subformat=<str>        - Type of virtual hard disk format. Supported formats are {dynamic "
              "(default) | fixed} \n"
              "\n"
              "The protocol level may support further options.\n"
              "Specify the target filename to include those options.\n");
    EXPECT_EQ(create_option_help(abi::Format::raw, true),
              "Supported options:\n"
              "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n"
              "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on btrfs)\n"
              "  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)\n"
              "  size=<size>            - Virtual disk size\n");
}

TEST(OptionHelp, AskedThroughTheCommandLine) {
    EXPECT_FALSE(create_help_text(parse_create_args({"-o", "size=1M", "d"})).has_value());
    EXPECT_EQ(*create_help_text(parse_create_args({"-f", "vpc", "-o", "help"})),
              create_option_help(abi::Format::vpc, false));
    EXPECT_THROW(create_help_text(parse_create_args({"-f", "foo", "-o", "help"})), Error);
}

TEST(BackingPath, RelativeToTheImage) {
    EXPECT_EQ(backing_path_relative_to("x.qcow2", "b.qcow2"), "b.qcow2");
    EXPECT_EQ(backing_path_relative_to("dir/x.qcow2", "b.qcow2"), "dir/b.qcow2");
    EXPECT_EQ(backing_path_relative_to("/a/x.qcow2", "../b.qcow2"), "/a/../b.qcow2");
    EXPECT_EQ(backing_path_relative_to("dir/x.qcow2", "/abs/b"), "/abs/b");
    EXPECT_EQ(image_base_name("a/b/c.vmdk"), "c.vmdk");
    EXPECT_EQ(image_base_name("c.vmdk"), "c.vmdk");
}

}  // namespace
}  // namespace instar::cli
