// SIGTERM, SIGINT and SIGHUP while a subcommand builds its output (a
// platform timing out a conversion, an operator's Ctrl-C, a closed
// terminal): the guest is stopped, the output discarded, one line is
// printed ("instar: copy: interrupted by SIGTERM") and the process exits
// with 128 + the signal number, as a shell would report it. qemu-img dies
// silently and leaves its partial output.
//
// The handler does the whole job itself, with async-signal-safe calls only
// (kill and reap the sandbox child, unlink a named temporary file, write,
// _exit), so it needs nothing from the interrupted code. An output made
// with O_TMPFILE has no name to remove: it goes with the last descriptor.
#pragma once

#include <signal.h>
#include <sys/types.h>

namespace instar {

// Handles the three signals for its lifetime; `command` names the
// subcommand in the line printed.
class InterruptHandling {
public:
    explicit InterruptHandling(const char* command);
    ~InterruptHandling();
    InterruptHandling(const InterruptHandling&) = delete;
    InterruptHandling& operator=(const InterruptHandling&) = delete;
};

// Holds the three signals back for a scope that must not be cut in half
// (forking a child and recording its pid; committing the output). One that
// arrives meanwhile is delivered when the scope ends.
class SignalsHeld {
public:
    SignalsHeld();
    ~SignalsHeld();
    SignalsHeld(const SignalsHeld&) = delete;
    SignalsHeld& operator=(const SignalsHeld&) = delete;
    const sigset_t& previous() const { return previous_; }  // the mask before

private:
    sigset_t previous_;
};

// The sandbox child the handler must kill and reap (0: none).
void interrupt_track_child(pid_t pid);

// In a freshly forked child, with the signals held: gives the three
// signals back the dispositions this process started with.
void interrupt_reset_in_child();

// A named temporary output the handler must unlink (used only where the
// file system has no O_TMPFILE); forgotten when committed or removed.
void interrupt_track_temp(int dir_fd, const char* name);
void interrupt_forget_temp();

// The output is in place: from now on the signals take their default
// action (the process ends, the committed output stays).
void interrupt_output_committed();

// A sandbox child ended by one of the three signals (sent to it alone, or
// to the process group before this process saw it): handled as if this
// process had received it. Returns only when no handling is installed or
// `sig` is not one of the three.
void interrupted_by(int sig);

}  // namespace instar
