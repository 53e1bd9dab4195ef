#!/usr/bin/perl
# SpamAssassin as the conformance oracle: for every message file named on stdin (one path a
# line), print one JSON line with SpamAssassin's score and every rule that hit with its value
# (`__` sub-rules included), using only local tests, no Bayes and no user preferences, as
# `spamassassin -L` does. Used by core/tests/sa_conformance.rs.
use strict;
use warnings;
use Mail::SpamAssassin;
use JSON::PP;

my $sa = Mail::SpamAssassin->new({
    local_tests_only => 1,
    userprefs_filename => '/dev/null',
    dont_copy_prefs => 1,
    post_config_text => "use_bayes 0\nuse_auto_whitelist 0\nuse_auto_welcomelist 0\n",
});
$sa->init(1);
my $json = JSON::PP->new->canonical(1);
$| = 1;
while (my $path = <STDIN>) {
    chomp $path;
    open(my $fh, '<', $path) or do { print $json->encode({file => $path, error => "$!"}), "\n"; next };
    local $/;
    my $text = <$fh>;
    close $fh;
    my $msg = $sa->parse($text);
    my $status = $sa->check($msg);
    my %values;
    my $hits = $status->{tests_already_hit} || {};
    while (my ($k, $v) = each %$hits) {
        $values{$k} = $v + 0 if $v;
    }
    print $json->encode({
        file => $path,
        score => $status->get_score() + 0,
        values => \%values,
    }), "\n";
    $status->finish();
    $msg->finish();
}
