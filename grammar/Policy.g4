// The gavel policy language (v1). The C++ parser is generated from this file
// at build time by Debian's antlr4 tool; docs/language.md is its reference.
// Semantics (types, names, effects) live in the checker, not here.
grammar Policy;

policy     : decl* EOF ;

decl
    : 'package' dottedName                                   # packageDecl
    | 'version' STRING                                       # versionDecl
    | 'default' (ALLOW | DENY)                               # defaultDecl
    | 'on_error' (DENY | SKIP_)                               # onErrorDecl
    | 'import' dottedName                                    # importDecl
    | 'schema' name '{' schemaField* '}'                    # schemaDecl
    | 'const' name '=' expr                                 # constDecl
    | 'pattern' name patternFlag* '=' patternItem           # patternDecl
    | 'patterns' name patternFlag* '{' patternItem* '}'     # patternsDecl
    | 'rule' name ('on' name)? '{' ('when' expr)? effect '}'  # ruleDecl
    | 'limit' name '{' limitBody '}'                        # limitDecl
    | 'budget' name '{' budgetClause* '}'                   # budgetDecl
    ;

dottedName : name ('.' name)* ;

schemaField : name ':' typeRef ('=' expr)? ;

typeRef
    : name                                                  # simpleType
    | name '<' typeRef (',' typeRef)? '>'                   # genericType
    ;

patternFlag : name ;
patternItem : (STRING | REGEX) patternFlag* ;

effect
    : DENY expr? effectOpt*                                  # denyEffect
    | ALLOW expr?                                            # allowEffect
    | 'route' expr                                           # routeEffect
    | 'flag' expr? effectOpt*                                # flagEffect
    | 'redact' qualifiedRef (',' qualifiedRef)* 'in' expr 'with' expr  # redactEffect
    ;

effectOpt
    : 'code' STRING                                          # codeOpt
    | 'status' INT                                           # statusOpt
    ;

qualifiedRef : name ('.' memberName)* ;

// After a dot, the quantifier words name members too (std.pii.any).
memberName : name | 'any' | 'all' ;

limitBody : 'per' expr (',' expr)* ('when' expr)? INT name 'per' (DURATION | name) ;

budgetClause
    : 'per' expr (',' expr)*                                 # budgetPer
    | expr 'usd' 'per' name                                 # budgetAmount
    | 'prices' expr                                          # budgetPrices
    | 'warn' 'at' INT '%'                                    # budgetWarn
    | 'when' expr                                            # budgetWhen
    ;

expr
    : primary                                                         # primaryExpr
    | expr '.' memberName                                            # memberExpr
    | expr '[' expr ']'                                               # indexExpr
    | '-' expr                                                        # negExpr
    | expr op=('*' | '/' | '%') expr                                  # mulExpr
    | expr op=('+' | '-') expr                                        # addExpr
    | expr op=('<' | '<=' | '>' | '>=') expr                          # relExpr
    | expr op=('==' | '!=') expr                                      # eqExpr
    | expr NOT? op=('in' | 'contains' | 'matches' | 'startswith' | 'endswith') expr  # memberOpExpr
    | NOT expr                                                        # notExpr
    | expr 'and' expr                                                 # andExpr
    | expr 'or' expr                                                  # orExpr
    | quant=('any' | 'all') name 'in' expr ':' expr                  # quantExpr
    ;

primary
    : INT                                                    # intLit
    | FLOAT                                                  # floatLit
    | STRING                                                 # stringLit
    | REGEX                                                  # regexLit
    | DURATION                                               # durationLit
    | ('true' | 'false')                                     # boolLit
    | name '(' (expr (',' expr)*)? ')'                      # callExpr
    | name                                                  # identExpr
    | '(' expr ')'                                           # parenExpr
    | '{' '}'                                                # emptyBraces
    | '{' expr (',' expr)* ','? '}'                          # setLit
    | '{' mapEntry (',' mapEntry)* ','? '}'                  # mapLit
    | '[' (expr (',' expr)* ','?)? ']'                       # listLit
    ;

mapEntry : (STRING | name) ':' expr ;

// Contextual keywords: they mean something only where the grammar expects them,
// and are ordinary names everywhere else (a const may be called `prices`).
name
    : IDENT | 'usd' | 'per' | 'prices' | 'warn' | 'at' | 'code' | 'status' | 'with'
    | 'on' | 'count' | 'route' | 'flag' | 'redact' | 'version' | 'package' | SKIP_
    | 'limit' | 'budget' | 'default' | 'import' | 'schema' | 'pattern' | 'patterns'
    ;

ALLOW : 'allow' ;
DENY  : 'deny' ;
SKIP_ : 'skip' ;
NOT   : 'not' ;

DURATION : [0-9]+ ('ms' | 's' | 'm' | 'h' | 'd') ;
FLOAT    : [0-9]+ '.' [0-9]+ ([eE] [+-]? [0-9]+)? ;
INT      : [0-9]+ ;
STRING   : '"' (~["\\\r\n] | '\\' .)* '"' ;
// A regex literal may only start where an operand is expected; the grammar has no
// division directly after a '/' operand position ambiguity because '/' followed by
// a space is division (the formatter always spaces binary operators).
REGEX    : '/' ~[ /\r\n*] (~[/\\\r\n] | '\\' .)* '/' ;
IDENT    : [a-zA-Z_] [a-zA-Z_0-9]* ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
WS            : [ \t\r\n]+ -> skip ;
ERRCHAR       : . ;
