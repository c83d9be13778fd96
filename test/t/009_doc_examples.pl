# Every example in the documentation runs as written.
#
# The ```sql fenced blocks of README.md and docs/*.md are run, file by file:
# each file with at least one such block gets a new node (privacy_guard
# preloaded, a fresh keyring; pg_cron too for a file that uses it) and its
# blocks run in order, in that node's database postgres, in one psql session
# as the bootstrap superuser.  So an example may rely only on what an
# earlier block of the same file set up (extension, roles, tables, policy),
# and on nothing from another file; examples switch roles with SET ROLE and
# RESET ROLE.  Other fence languages (sh, ini, json, text) are not run.
#
# Each statement must succeed, except one that says on its own line
# "-- ERROR <SQLSTATE>": it must fail with exactly that SQLSTATE.  A block
# passes when all its statements do; a failure names the file, the line and
# the SQLSTATE.  Statements are split here (quotes, dollar quotes and
# comments respected) so that psql reports each one's SQLSTATE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $root = "$FindBin::Bin/../..";
my @files = ('README.md', map { s{^\Q$root\E/}{}r } sort glob("$root/docs/*.md"));

# The ```sql blocks of a file: [first line number, text].
sub sql_blocks
{
	my ($file) = @_;
	open(my $fh, '<', "$root/$file") or die "could not read $file: $!";
	my (@blocks, $block, $start);
	while (my $line = <$fh>)
	{
		if (defined $block)
		{
			if ($line =~ /^\s*```\s*$/)
			{
				push @blocks, [ $start, $block ];
				undef $block;
			}
			else
			{
				$block .= $line;
			}
		}
		elsif ($line =~ /^\s*```sql\s*$/)
		{
			$block = '';
			$start = $. + 1;
		}
	}
	die "$file: unterminated ```sql block at line $start" if defined $block;
	return @blocks;
}

# Split a block into statements: {sql, line, expect (SQLSTATE or undef),
# meta (a psql meta-command alone)}.  A statement ends at a ";" or at a psql
# meta-command (\gset...), outside quotes and comments.  "-- ERROR XXXXX"
# belongs to the statement on whose line it stands; anywhere else it is an
# error in the document.
sub statements
{
	my ($text, $line) = @_;
	my (@stmts, @problems);
	my $cur = { sql => '', line => $line };
	my $state = '';    # '', "'", '"', '$tag$', '/*'
	my $last_end_line = -1;
	my $n = length $text;
	my $i = 0;
	my $finish = sub {
		my ($meta) = @_;
		if ($cur->{sql} =~ /\S/)
		{
			$cur->{meta} = $meta;
			push @stmts, $cur;
			$last_end_line = $line;
		}
		$cur = { sql => '', line => $line };
	};
	while ($i < $n)
	{
		my $c = substr($text, $i, 1);
		my $rest = substr($text, $i);
		if ($state eq '')
		{
			if ($rest =~ /^(--[^\n]*)/)
			{
				my $comment = $1;
				if ($comment =~ /^--\s*ERROR\b\s*(\S*)/)
				{
					my $code = $1;
					my $target = $cur->{sql} =~ /\S/ ? $cur
					  : ($last_end_line == $line && @stmts) ? $stmts[-1]
					  : undef;
					if ($code !~ /^[0-9A-Z]{5}$/)
					{
						push @problems, "line $line: \"$comment\" does not name a SQLSTATE";
					}
					elsif (!defined $target)
					{
						push @problems, "line $line: \"$comment\" is not on a statement's line";
					}
					else
					{
						$target->{expect} = $code;
					}
				}
				$i += length $comment;
				next;
			}
			if ($rest =~ /^\\[^\n]*/)
			{
				# a psql meta-command: to the end of the line
				my $meta = $&;
				my $alone = $cur->{sql} !~ /\S/;
				$cur->{sql} .= $meta;
				$cur->{line} = $line if $alone;
				$finish->($alone);
				$i += length $meta;
				next;
			}
			if ($cur->{sql} !~ /\S/ && $c =~ /\S/)
			{
				$cur->{line} = $line;
			}
			if ($c eq ';')
			{
				$cur->{sql} .= $c;
				$finish->(0);
				$i++;
				next;
			}
			if ($c eq "'" || $c eq '"')
			{
				$state = $c;
			}
			elsif ($rest =~ /^(\$[A-Za-z_]*\$)/)
			{
				$state = $1;
				$cur->{sql} .= $1;
				$i += length $1;
				next;
			}
			elsif ($rest =~ /^\/\*/)
			{
				$state = '/*';
				$cur->{sql} .= '/*';
				$i += 2;
				next;
			}
		}
		elsif ($state eq '/*')
		{
			if ($rest =~ /^\*\//)
			{
				$state = '';
				$cur->{sql} .= '*/';
				$i += 2;
				next;
			}
		}
		elsif ($state eq "'" || $state eq '"')
		{
			$state = '' if $c eq $state;    # '' doubled: leaves and enters again
		}
		elsif (substr($rest, 0, length $state) eq $state)
		{
			$cur->{sql} .= $state;
			$i += length $state;
			$state = '';
			next;
		}
		$line++ if $c eq "\n";
		$cur->{sql} .= $c;
		$i++;
	}
	push @problems, "line $cur->{line}: statement without a final \";\"" if $cur->{sql} =~ /\S/;
	push @problems, "an unterminated quote or comment ($state)" if $state ne '';
	return (\@stmts, \@problems);
}

# Run one file's blocks in one session; one test per block.
sub run_file
{
	my ($file, @blocks) = @_;
	my $name = $file =~ s{\W+}{_}gr;
	my ($node) = keyring_node($name, "1:" . ('9e' x 32) . "\n");
	my $cron = grep { $_->[1] =~ /\bcron\./ } @blocks;
	if ($cron)
	{
		my $pkglibdir = $node->config_data('--pkglibdir');
		unless (-e "$pkglibdir/pg_cron.so")
		{
		  SKIP:
			{
				skip "$file: pg_cron is not installed (Debian: postgresql-15-cron)", scalar @blocks;
			}
			return;
		}
		# as docs/operations.md says to configure it
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'privacy_guard,pg_cron'
cron.database_name = 'postgres'
});
	}
	$node->start;

	my $script = '';
	my (@checks, %problems);
	for my $i (0 .. $#blocks)
	{
		my ($stmts, $problems) = statements($blocks[$i][1], $blocks[$i][0]);
		$problems{$i} = $problems;
		for my $s (@$stmts)
		{
			$script .= "\\warn '\@\@ $file:$s->{line}'\n$s->{sql}\n";
			if ($s->{meta})
			{
				push @$problems, "line $s->{line}: a psql meta-command cannot fail with an SQLSTATE"
				  if $s->{expect};
				next;
			}
			push @checks, { %$s, block => $i };
			$script .= "\\echo '\@\@' $#checks :SQLSTATE\n";
		}
	}
	my ($out, $err) = ('', '');
	$node->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_stop => 0);
	my %state = $out =~ /^@@ (\d+) (\S+)$/mg;

	for my $i (0 .. $#blocks)
	{
		my @wrong = @{ $problems{$i} };
		my @mine = grep { $checks[$_]{block} == $i } 0 .. $#checks;
		for my $k (@mine)
		{
			my $s = $checks[$k];
			my $want = $s->{expect} // '00000';
			my $got = $state{$k} // 'not run';
			next if $got eq $want;
			push @wrong, "line $s->{line}: expected "
			  . ($s->{expect} ? "ERROR $want" : 'success')
			  . ", got " . ($got eq '00000' ? 'success' : $got eq 'not run' ? $got : "ERROR $got");
		}
		ok(!@wrong, "$file: block at line $blocks[$i][0] runs as written (" . scalar(@mine) . " statements)")
		  or diag(join("\n", @wrong, '', 'psql said:', $err));
	}
	$node->stop;
}

my $total = 0;
for my $file (@files)
{
	my @blocks = sql_blocks($file);
	$total += @blocks;
	run_file($file, @blocks) if @blocks;
}
# the harness itself can fail: it found the examples it is meant to run
cmp_ok($total, '>=', 4, "found the sql examples of README.md and docs/*.md ($total blocks)");

done_testing();
